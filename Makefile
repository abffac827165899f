# Newcomer commands:  make book  (build the book)   |   make test  (run every test)
# Both create .venv on first use. Instructors: make figures PROFILE=cpu [CHAPTER=name].
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROFILE ?= cpu
CHAPTER ?=

.PHONY: venv book test unit test-cuda figures benchmark clean

venv: $(STAMP)
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -e '.[book,grading,dev]'
	touch $(STAMP)

# The reader's build: offline, notebooks rendered from their stored outputs, warnings are errors.
book: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "Open _build/html/index.html"

# Unit tests, notebooks under nbval (LSDL_PROFILE=smoke), the nbgrader round trip and the book build,
# on 2 workers (--dist loadfile keeps each notebook's cells, which share a kernel, on one worker).
test: $(STAMP)
	LSDL_PROFILE=$${LSDL_PROFILE:-smoke} $(BIN)/python -m pytest tests book solutions --nbval-lax \
		--nbval-cell-timeout=900 -n 2 --dist loadfile -q -m "not cuda"

unit: $(STAMP)
	$(BIN)/python -m pytest tests -q -m "not course and not cuda"

# On a machine with a GPU: every method family's smoke path on CUDA (not part of `make test`).
test-cuda: $(STAMP)
	$(BIN)/python -m pytest tests/test_cuda.py -q -m cuda

figures: $(STAMP)
	$(BIN)/lsdl-ens figures --profile $(PROFILE) $(if $(CHAPTER),--chapter $(CHAPTER))

benchmark: $(STAMP)
	$(BIN)/python benchmarks/throughput.py

clean:
	rm -rf _build
