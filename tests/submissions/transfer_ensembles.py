"""Prepared submissions for the "transfer_ensembles" assignment: code for each solution cell (grade_id -> source).

WRONG: plausible mistakes (some functions right, some wrong) -> strictly between 0 and full marks.
SHORTCUT: every function calls the reference library -> 0 on every autograded cell.
"""

WRONG = {
    "cycle_lr_answer": '''
def cycle_lr(t, cycle_length, lr_max):
    frac = min(max(t / cycle_length, 0.0), 1.0)
    return lr_max / 2 * (1 + math.cos(math.pi * frac))
''',
    "star_sse_answer": '''
def star_sse(first_state, make_model, train_cycle, n_members):  # mistake: SSE chain (starts from the previous member)
    states = [{k: v.clone() for k, v in first_state.items()}]
    for k in range(1, n_members):
        model = make_model()
        model.load_state_dict(states[-1])
        train_cycle(model, k)
        states.append({n: t.detach().clone() for n, t in model.state_dict().items()})
    return states
''',
    "diversity_answer": '''
def member_diversity(probs, labels):  # mistake: normalises by the mean error of the pair instead of the max
    preds = probs.argmax(-1)
    errors = [(p != labels).double().mean().item() for p in preds]
    terms = []
    for a in range(len(preds)):
        for b in range(len(preds)):
            if a != b:
                mean_err = (errors[a] + errors[b]) / 2
                terms.append(0.0 if mean_err == 0 else (preds[a] != preds[b]).double().mean().item() / mean_err)
    return 100 * sum(terms) / len(terms)
''',
    "interpolation_answer": '''
def interpolation_errors(make_model, state_a, state_b, x, y, alphas):
    model = make_model()
    errors = []
    with torch.no_grad():
        for alpha in alphas:
            model.load_state_dict({k: (1 - alpha) * state_a[k] + alpha * state_b[k] for k in state_a})
            errors.append((model(x).argmax(1) != y).double().mean().item())
    return torch.tensor(errors, dtype=torch.float64)
''',
    "basin_answer": '''
def same_basin(errors, alphas, tol=0.02):  # mistake: compares with the mean of the endpoints, alphas unsorted
    errors = torch.as_tensor(errors, dtype=torch.float64)
    b = float(errors.max() - (errors[0] + errors[-1]) / 2)
    return b, b <= tol
''',
}

SHORTCUT = {
    "cycle_lr_answer": '''
from lsdl_ens.transfer import cycle_lr
''',
    "star_sse_answer": '''
from lsdl_ens.transfer import run_cycles


def star_sse(first_state, make_model, train_cycle, n_members):
    return run_cycles(first_state, make_model, train_cycle, n_members, star=True)
''',
    "diversity_answer": '''
from lsdl_ens.transfer import member_diversity
''',
    "interpolation_answer": '''
from lsdl_ens.landscape import linear_path


def interpolation_errors(make_model, state_a, state_b, x, y, alphas):
    path = linear_path(make_model(), state_a, state_b, [(x, y)], alphas=alphas, progress=False)
    return torch.as_tensor(path["error"])
''',
    "basin_answer": '''
from lsdl_ens.landscape import barrier


def same_basin(errors, alphas, tol=0.02):
    b = barrier(errors, alphas)
    return b, b <= tol
''',
}
