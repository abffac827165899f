"""Prepared submissions for the "weight_averaging" assignment: code for each solution cell (grade_id -> source).

WRONG: plausible mistakes (some functions right, some wrong) -> strictly between 0 and full marks.
SHORTCUT: every function calls the reference library -> 0 on every autograded cell.
"""

WRONG = {
    "swa_answer": '''
def swa_update(average, n_averaged, state):  # mistake: an exponential moving average with factor 1/2
    if n_averaged == 0:
        return {k: v.clone() for k, v in state.items()}
    return {k: (0.5 * average[k] + 0.5 * v) if v.is_floating_point() else v.clone() for k, v in state.items()}
''',
    "bn_answer": '''
def bn_update(model, batches):  # mistake: keeps the default momentum (an exponential, not cumulative, average)
    was = model.training
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
    model.train()
    with torch.no_grad():
        for x, _ in batches:
            model(x)
    model.train(was)
''',
    "uniform_answer": '''
def uniform_soup(states):
    first = states[0]
    for s in states[1:]:
        for key in set(first) | set(s):
            if key not in s or key not in first or s[key].shape != first[key].shape:
                raise ValueError(f"mismatch at key {key!r}")
    return {k: (sum(s[k] for s in states) / len(states)) if v.is_floating_point() else v.clone()
            for k, v in first.items()}
''',
    "greedy_answer": '''
def greedy_soup(states, evaluate):  # mistake: strict improvement (rejects ties)
    scores = [evaluate(s) for s in states]
    order = sorted(range(len(states)), key=lambda i: -scores[i])
    chosen, best = [order[0]], scores[order[0]]
    soup = dict(states[order[0]])
    for i in order[1:]:
        cand = uniform_soup([states[j] for j in chosen + [i]])
        score = evaluate(cand)
        if score > best:
            chosen, best, soup = chosen + [i], score, cand
    return soup, chosen
''',
    "learned_answer": '''
def learned_soup_step(model, states, logits, x, y, lr):
    a = logits.detach().clone().requires_grad_(True)
    w = a.softmax(0)
    params = {n: sum(w[i] * states[i][n] for i in range(len(states))) for n, _ in model.named_parameters()}
    loss = F.cross_entropy(torch.func.functional_call(model, params, (x,)), y)
    loss.backward()
    return (a - lr * a.grad).detach()
''',
}

SHORTCUT = {
    "swa_answer": '''
from lsdl_ens.state import average as _average
def swa_update(average, n_averaged, state):
    if n_averaged == 0:
        return {k: v.clone() for k, v in state.items()}
    return _average([average, state], [n_averaged / (n_averaged + 1), 1 / (n_averaged + 1)])
''',
    "bn_answer": '''
import lsdl_ens.bn
def bn_update(model, batches):
    lsdl_ens.bn.update_bn(model, batches)
''',
    "uniform_answer": '''
from lsdl_ens.soups import uniform_soup as _soup
def uniform_soup(states):
    return _soup(states)
''',
    "greedy_answer": '''
from lsdl_ens import soups as _soups
def greedy_soup(states, evaluate):
    return _soups.greedy_soup(states, evaluate, progress=False)
''',
    "learned_answer": '''
from lsdl_ens.soups import learned_soup_step as _step
def learned_soup_step(model, states, logits, x, y, lr):
    return _step(model, states, logits, x, y, lr)
''',
}

# torch.optim.swa_utils solves bn_update: refused in this assignment
ATTACKS = {
    "swa_utils": {"bn_answer": '''
def bn_update(model, batches):
    torch.optim.swa_utils.update_bn([x for x, _ in batches], model)
'''},
}
