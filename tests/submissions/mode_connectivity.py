"""Prepared submissions for the "mode_connectivity" assignment: code for each solution cell (grade_id -> source).

WRONG: plausible mistakes (some functions right, some wrong) -> strictly between 0 and full marks.
SHORTCUT: every function calls the reference library -> 0 on every autograded cell.
"""

WRONG = {
    "coeffs_answer": '''
def bezier_coeffs(t, n_points):  # mistake: forgets the binomial coefficients
    k = torch.arange(n_points, dtype=torch.float64)
    t = torch.tensor(float(t), dtype=torch.float64)
    return t ** k * (1 - t) ** (n_points - 1 - k)


def polychain_coeffs(t, n_points):
    k = torch.arange(n_points, dtype=torch.float64)
    return (1 - (float(t) * (n_points - 1) - k).abs()).clamp(min=0)
''',
    "interpolate_answer": '''
def interpolate_state(state_a, state_b, alpha):  # mistake: interpolates the integer counters too
    if set(state_a) != set(state_b):
        raise ValueError("different keys")
    return {k: (1 - alpha) * a + alpha * state_b[k] for k, a in state_a.items()}
''',
    "barrier_answer": '''
def barrier(values, alphas, reference="linear"):
    if reference not in ("linear", "mean"):
        raise ValueError("reference must be 'linear' or 'mean'")
    values = torch.as_tensor(values, dtype=torch.float64).flatten()
    alphas = torch.as_tensor(alphas, dtype=torch.float64).flatten()
    order = torch.argsort(alphas)
    values, alphas = values[order], alphas[order]
    start, end = values[0], values[-1]
    if reference == "mean":
        return float(values.max() - 0.5 * (start + end))
    s = (alphas - alphas[0]) / (alphas[-1] - alphas[0])
    return float((values - ((1 - s) * start + s * end)).max())
''',
    "bn_answer": '''
def recompute_bn(model, batches):  # mistake: keeps the exponential moving average (momentum 0.1), no reset
    model.train()
    with torch.no_grad():
        for x, _ in batches:
            model(x)
    model.eval()
''',
    "cka_answer": '''
def linear_cka(x, y):  # mistake: no centring
    x, y = x.double(), y.double()
    return float((y.T @ x).norm() ** 2 / ((x.T @ x).norm() * (y.T @ y).norm()))
''',
    "curve_answer": '''
def train_bezier_bend(model_a, model_b, x, y, steps=300, lr=0.05, batch_size=64, seed=0):
    wa = {k: v.detach() for k, v in model_a.named_parameters()}
    wb = {k: v.detach() for k, v in model_b.named_parameters()}
    bend = {k: (0.5 * (wa[k] + wb[k])).clone().requires_grad_(True) for k in wa}
    opt = torch.optim.SGD(list(bend.values()), lr=lr, momentum=0.9)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        t = torch.rand((), generator=g)
        idx = torch.randint(0, len(x), (batch_size,), generator=g)
        params = {k: (1 - t) ** 2 * wa[k] + 2 * t * (1 - t) * bend[k] + t ** 2 * wb[k] for k in wa}
        loss = F.cross_entropy(functional_call(model_a, params, (x[idx],)), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {k: v.detach() for k, v in bend.items()}
''',
}

SHORTCUT = {
    "coeffs_answer": '''
from lsdl_ens.landscape import bezier_coeffs as _b, polychain_coeffs as _p
def bezier_coeffs(t, n_points):
    return _b(torch.tensor(float(t), dtype=torch.float64), n_points)
def polychain_coeffs(t, n_points):
    return _p(torch.tensor(float(t), dtype=torch.float64), n_points)
''',
    "interpolate_answer": '''
import lsdl_ens.state
def interpolate_state(state_a, state_b, alpha):
    return lsdl_ens.state.interpolate(state_a, state_b, alpha)
''',
    "barrier_answer": '''
from lsdl_ens.landscape import barrier as _barrier
def barrier(values, alphas, reference="linear"):
    return _barrier(values, alphas, reference=reference)
''',
    "bn_answer": '''
from lsdl_ens.bn import update_bn
def recompute_bn(model, batches):
    update_bn(model, batches)
''',
    "cka_answer": '''
from lsdl_ens import landscape as _l
def linear_cka(x, y):
    return _l.linear_cka(x, y)
''',
    "curve_answer": '''
from lsdl_ens.landscape import CurveModel, train_curve
def train_bezier_bend(model_a, model_b, x, y, steps=300, lr=0.05, batch_size=64, seed=0):
    curve = CurveModel(model_a, model_a.state_dict(), model_b.state_dict(), kind="bezier", seed=seed)
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    train_curve(curve, batches, epochs=max(1, steps // len(batches)), lr=lr, weight_decay=0.0, seed=seed)
    return {k: v.detach() for k, v in curve.control_point(1).items()}
''',
}
