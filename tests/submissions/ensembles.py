"""Prepared submissions for the "ensembles" assignment: code for each solution cell (grade_id -> source).

WRONG: plausible mistakes (some functions right, some wrong) -> strictly between 0 and full marks.
SHORTCUT: every function calls the reference library -> 0 on every autograded cell.
"""

WRONG = {
    "sse_answer": '''
def sse_lr(iteration, total_iterations, n_cycles, lr_max):  # mistake: cycle length in whole iterations
    c = total_iterations // n_cycles
    return lr_max / 2 * (1 + math.cos(math.pi * (iteration % c) / c))
''',
    "fge_answer": '''
def fge_lr(iteration, cycle_iterations, lr_1, lr_2):
    t = (iteration % cycle_iterations) / cycle_iterations
    if t < 0.5:
        return (1 - 2 * t) * lr_1 + 2 * t * lr_2
    return (2 * t - 1) * lr_1 + (2 - 2 * t) * lr_2
''',
    "sgld_answer": '''
def sgld_step(param, grad, lr, n_data, temperature, noise, sampling, weight_decay=0.0):
    # mistake: forgets that the loss is a mean over the data (noise sqrt(2 lr T) instead of sqrt(2 lr T / N))
    new = param - lr * (grad + weight_decay * param)
    if sampling:
        new = new + math.sqrt(2 * lr * temperature) * noise
    return new
''',
    "ensemble_answer": '''
def ensemble_predict(logits):  # mistake: averages logits instead of probabilities
    return logits.mean(0).softmax(-1)
''',
    "dee_answer": '''
def dee(method_nll, ensemble_nll):  # mistake: rounds up to the next integer size instead of interpolating
    sizes = sorted(ensemble_nll)
    out = {}
    for k, v in method_nll.items():
        out[k] = float(next((l for l in sizes if ensemble_nll[l] <= v), sizes[-1]))
    return out
''',
}

SHORTCUT = {
    "sse_answer": '''
from lsdl_ens.schedules import sse_lr as _sse
def sse_lr(iteration, total_iterations, n_cycles, lr_max):
    return _sse(iteration, total_iterations, n_cycles, lr_max)
''',
    "fge_answer": '''
import lsdl_ens.schedules
def fge_lr(iteration, cycle_iterations, lr_1, lr_2):
    return lsdl_ens.schedules.fge_lr(iteration, cycle_iterations, lr_1, lr_2)
''',
    "sgld_answer": '''
from lsdl_ens.ensembles.csgld import CyclicalSGLD
def sgld_step(param, grad, lr, n_data, temperature, noise, sampling, weight_decay=0.0):
    p = torch.nn.Parameter(param.clone())
    p.grad = grad.clone()
    opt = CyclicalSGLD([p], lr=lr, n_data=n_data, temperature=temperature, weight_decay=weight_decay)
    opt.step()
    extra = math.sqrt(2 * lr * temperature / n_data) * noise if sampling else 0.0
    return p.detach() + extra
''',
    "ensemble_answer": '''
from lsdl_ens.metrics import ensemble_probs
def ensemble_predict(logits):
    return ensemble_probs([z.softmax(-1) for z in logits])
''',
    "dee_answer": '''
from lsdl_ens.ensembles import dee as _dee
def dee(method_nll, ensemble_nll):
    return _dee(method_nll, ensemble_nll)
''',
}
