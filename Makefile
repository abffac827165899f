# Newcomer commands:  make book  (build the book)   |   make test  (run every test)
# `make book` creates the light .venv-book (Jupyter Book only, no torch); the other targets create the full .venv.
# Instructors: make figures PROFILE=cpu [CHAPTER=name].
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROFILE ?= cpu
CHAPTER ?=
BOOK_VENV := .venv-book
BOOK_STAMP := $(BOOK_VENV)/.installed

# Data and cache folders given relative to where make runs (e.g. LSDL_DATA=../shared/data) are made absolute,
# because the notebooks run from book/ and would otherwise resolve them against book/.
ifneq ($(strip $(LSDL_DATA)),)
override export LSDL_DATA := $(abspath $(LSDL_DATA))
endif
ifneq ($(strip $(LSDL_CACHE)),)
override export LSDL_CACHE := $(abspath $(LSDL_CACHE))
endif

.PHONY: venv book-venv book test unit test-cuda lint figures benchmark print-paths clean

venv: $(STAMP)
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -e '.[book,grading,dev]'
	touch $(STAMP)

# The reader's build: offline, notebooks rendered from their stored outputs, warnings are errors. Its own light
# environment (requirements-book.txt: Jupyter Book and offline MathJax; no torch, lsdl_ens is not imported).
book-venv: $(BOOK_STAMP)
$(BOOK_STAMP): requirements-book.txt
	test -x $(BOOK_VENV)/bin/python || $(PYTHON) -m venv $(BOOK_VENV)
	$(BOOK_VENV)/bin/pip install -q -U pip
	$(BOOK_VENV)/bin/pip install -q -r requirements-book.txt
	touch $(BOOK_STAMP)

book: $(BOOK_STAMP)
	$(BOOK_VENV)/bin/jupyter-book build . -W -n --keep-going
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

# Lint (rules in pyproject.toml [tool.ruff]); CI runs it before the tests.
lint: $(STAMP)
	$(BIN)/ruff check .

figures: $(STAMP)
	$(BIN)/lsdl-ens figures --profile $(PROFILE) $(if $(CHAPTER),--chapter $(CHAPTER))

benchmark: $(STAMP)
	$(BIN)/python benchmarks/throughput.py

# The data and cache folders as the notebooks and tests see them (absolute).
print-paths:
	@echo "LSDL_DATA=$${LSDL_DATA}"
	@echo "LSDL_CACHE=$${LSDL_CACHE}"

clean:
	rm -rf _build
