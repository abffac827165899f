"""Prepared submissions for the "basins" assignment: code for each solution cell (grade_id -> source).

WRONG: plausible mistakes (some functions right, some wrong) -> strictly between 0 and full marks.
SHORTCUT: every function calls the reference library -> 0 on every autograded cell.
"""

WRONG = {
    "swag_moments_answer": '''
def swag_moments(thetas, max_rank=20):  # mistake: deviations from the final mean, not the running mean
    stack = torch.stack([t.double() for t in thetas])
    mean = stack.mean(0)
    variance = ((stack - mean) ** 2).mean(0).clamp_min(1e-30)
    return mean, variance, (stack - mean)[-max_rank:]
''',
    "swag_sample_answer": '''
def swag_sample(mean, variance, deviations, z1, z2, scale=0.5, diag_only=False):  # mistake: variance, not std
    noise = variance * z1
    if not diag_only and deviations.shape[0] >= 2:
        noise = noise + deviations.T @ z2 / math.sqrt(deviations.shape[0] - 1)
    return mean + math.sqrt(scale) * noise
''',
    "kfac_factors_answer": '''
def kfac_factors(inputs, output_grads, bias=True):
    a = inputs.double()
    if bias:
        a = torch.cat([a, torch.ones(len(a), 1, dtype=torch.float64)], 1)
    g = output_grads.double()
    return a.T @ a / len(a), g.T @ g / len(g)
''',
    "matrix_normal_answer": '''
def matrix_normal_sample(w_map, A, G, n_data, prior_precision, z):  # mistake: no pi-damping, N instead of sqrt(N)
    A, G, z = A.double(), G.double(), z.double()
    u = n_data * G + math.sqrt(prior_precision) * torch.eye(G.shape[0], dtype=torch.float64)
    v = n_data * A + math.sqrt(prior_precision) * torch.eye(A.shape[0], dtype=torch.float64)
    lu, lv = torch.linalg.cholesky(u), torch.linalg.cholesky(v)
    left = torch.linalg.solve_triangular(lu.T, z, upper=True)
    return w_map.double() + torch.linalg.solve_triangular(lv.T, left.T, upper=True).T
''',
    "dirichlet_answer": '''
def uniform_simplex_weights(u):  # mistake: normalising the uniforms
    u = u.double()
    return u / u.sum(-1, keepdim=True)
''',
    "volume_answer": '''
def log_squared_volume(vertices):
    v = vertices.double()
    n = v.shape[0]
    if n == 1:
        return -math.inf
    x = v - v[:1]
    gram = x @ x.T
    sq = gram.diagonal()
    cm = torch.ones(n + 1, n + 1, dtype=torch.float64)
    cm[0, 0] = 0
    cm[1:, 1:] = (sq[:, None] + sq[None, :] - 2 * gram).clamp_min(0)
    _, logabs = torch.linalg.slogdet(cm)
    return float(logabs - 2 * math.lgamma(n) - (n - 1) * math.log(2))
''',
}

SHORTCUT = {
    "swag_moments_answer": '''
from lsdl_ens.ensembles import SWAG as _SWAG
def swag_moments(thetas, max_rank=20):
    layer = torch.nn.Linear(len(thetas[0]), 1, bias=False)
    swag = _SWAG(layer, max_rank=max_rank)
    for t in thetas:
        with torch.no_grad():
            layer.weight.copy_(t.view(1, -1))
        swag.collect(layer)
    return swag.mean, swag.variance, swag.deviations
''',
    "swag_sample_answer": '''
import lsdl_ens.ensembles.swag as _swag
def swag_sample(mean, variance, deviations, z1, z2, scale=0.5, diag_only=False):
    layer = torch.nn.Linear(len(mean), 1, bias=False)
    s = _swag.SWAG(layer)
    return s.sample(scale, diag_only)
''',
    "kfac_factors_answer": '''
from lsdl_ens.ensembles import KFACLaplace
def kfac_factors(inputs, output_grads, bias=True):
    net = torch.nn.Module()
    net.head = torch.nn.Linear(inputs.shape[1], output_grads.shape[1], bias=bias)
    la = KFACLaplace(net, 1.0, len(inputs), subset="last_layer")
    return la.factors["head"]
''',
    "matrix_normal_answer": '''
from lsdl_ens.ensembles.kfac_laplace import KFACLaplace
def matrix_normal_sample(w_map, A, G, n_data, prior_precision, z):
    net = torch.nn.Module()
    net.head = torch.nn.Linear(A.shape[0] - 1, G.shape[0])
    la = KFACLaplace(net, prior_precision, n_data, subset="last_layer", damping="ritter")
    return w_map + la._noise("head", None)
''',
    "dirichlet_answer": '''
from lsdl_ens.simplex import dirichlet_weights
def uniform_simplex_weights(u):
    return dirichlet_weights(u.shape[1], u.shape[0])
''',
    "volume_answer": '''
from lsdl_ens.simplex import cayley_menger_volume
def log_squared_volume(vertices):
    return float(cayley_menger_volume(vertices, log=True))
''',
}
