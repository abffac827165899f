"""Prepared submissions for the "optimizers_tta" assignment: code for each solution cell (grade_id -> source).

WRONG: plausible mistakes (some functions right, some wrong) -> strictly between 0 and full marks.
SHORTCUT: every function calls the reference library -> 0 on every autograded cell.
"""

WRONG = {
    "lookahead_answer": '''
def lookahead_gd(w0, grad_fn, lr, k, alpha, n_steps):  # mistake: interpolates the wrong way (alpha <-> 1 - alpha)
    fast, slow = w0.clone(), w0.clone()
    for t in range(1, n_steps + 1):
        fast = fast - lr * grad_fn(fast)
        if t % k == 0:
            slow = fast + alpha * (slow - fast)
            fast = slow.clone()
    return fast, slow
''',
    "lookaround_answer": '''
def lookaround_gd(w0, grad_fns, lr, k, n_rounds):
    heads = [w0.clone() for _ in grad_fns]
    for r in range(1, n_rounds + 1):
        heads = [h - lr * fn(h) for h, fn in zip(heads, grad_fns)]
        if r % k == 0:
            mean = torch.stack(heads).mean(0)
            heads = [mean.clone() for _ in heads]
    return torch.stack(heads).mean(0)
''',
    "watt_loss_answer": '''
def watt_loss(image_features, text_features, logit_scale, tau=0.01):  # mistake: Q used without transposing
    P = logit_scale * text_features @ image_features.T
    Q = torch.softmax((image_features @ image_features.T + text_features @ text_features.T) / (2 * tau), dim=1)
    return -(Q * torch.log_softmax(P, dim=1)).sum(1).mean()
''',
    "watt_average_answer": '''
def watt_average(w0, grad_fns, lr, n_iters, n_rounds, mode):  # mistake: sequential restarts every template too
    avg = w0.clone()
    for _ in range(n_rounds):
        snapshots = []
        for fn in grad_fns:
            w = avg.clone()
            for _ in range(n_iters):
                w = w - lr * fn(w)
            snapshots.append(w)
        avg = torch.stack(snapshots).mean(0)
    return avg
''',
}

SHORTCUT = {
    "lookahead_answer": '''
from lsdl_ens.optim import Lookahead
def lookahead_gd(w0, grad_fn, lr, k, alpha, n_steps):
    w = torch.nn.Parameter(w0.clone())
    opt = Lookahead(torch.optim.SGD([w], lr=lr), k=k, alpha=alpha)
    for _ in range(n_steps):
        w.grad = grad_fn(w.detach())
        opt.step()
    return w.detach().clone(), opt.state[w]["slow_param"].clone()
''',
    "lookaround_answer": '''
from lsdl_ens.optim import Lookaround
def lookaround_gd(w0, grad_fns, lr, k, n_rounds):
    w = torch.nn.Parameter(w0.clone())
    opt = Lookaround([w], lr=lr, n_heads=len(grad_fns), k=k, momentum=0.0)
    for _ in range(n_rounds):
        for fn in grad_fns:
            w.grad = fn(w.detach())
            opt.step()
    with opt.swap_to_average():
        return w.detach().clone()
''',
    "watt_loss_answer": '''
import lsdl_ens.tta
def watt_loss(image_features, text_features, logit_scale, tau=0.01):
    return lsdl_ens.tta.watt_loss(image_features, text_features, logit_scale, tau)
''',
    "watt_average_answer": '''
from lsdl_ens.tta import average_weights
def watt_average(w0, grad_fns, lr, n_iters, n_rounds, mode):
    avg = [w0.clone()]
    for _ in range(n_rounds):
        sets, w = [], avg[0].clone()
        for fn in grad_fns:
            if mode == "parallel":
                w = avg[0].clone()
            for _ in range(n_iters):
                w = w - lr * fn(w)
            sets.append([w.clone()])
        avg = average_weights(sets)
    return avg[0]
''',
}
