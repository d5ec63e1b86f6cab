"""Write tests/data/variants/<hw>/<name>.ipynb: the homework answered correctly, another way.

Each variant is the solutions notebook (as `autograder release` writes it) whose answer cells are
rewritten the way another student would write them — loops instead of vectorised code, helper
cells, `nn.ModuleList`, `torch.inference_mode()`, the best weights kept on the CPU, a sigmoid from
`tanh`… — still doing what each question asks. `autograder validate` grades every variant and
requires each to score exactly what the solution scores: a hidden test that fails one of them
demands more than the question says (an unstated precision, one way of writing the code).

    python tests/data/variants/make_variants.py            # write every variant
    python tests/data/variants/make_variants.py --check    # exit 1 if a committed one is stale
"""

from __future__ import annotations

import argparse
import copy
import sys
from dataclasses import dataclass
from pathlib import Path

from nbformat.v4 import new_code_cell

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE.parent))

from autograder.config import load_course  # noqa: E402
from autograder.errors import AutograderError  # noqa: E402
from autograder.notebook import cells_of  # noqa: E402
from autograder.release import notebook_bytes  # noqa: E402
from fixture_files import solution_notebook, sync  # noqa: E402


@dataclass(frozen=True)
class Variant:
    name: str  # file name
    how: str  # one line: what is written differently
    answers: dict[str, str]  # grade_id of an answer cell -> its whole new source
    helpers: tuple[tuple[str, str], ...] = ()  # (grade_id of the answer cell it precedes, code)


HW1 = [
    Variant("loops", "monomials, accuracy and gradient descent written with explicit loops", {
        "polynomial_features": '''def polynomial_features(X, degree):
    X = np.asarray(X, dtype=float)
    out = np.empty((X.shape[0], (degree + 1) * (degree + 2) // 2))
    column = 0
    for k in range(degree + 1):
        for a in range(k, -1, -1):  # power of x1, decreasing
            out[:, column] = X[:, 0] ** a * X[:, 1] ** (k - a)
            column += 1
    return out''',
        "gradient_descent": '''def fit_logistic(F, y, lr=0.5, steps=1000):
    w = np.zeros(F.shape[1])
    step = 0
    while step < steps:
        w -= lr * logistic_gradient(w, F, y)
        step += 1
    return w


def predict(w, F):
    return np.array([1 if row @ w >= 0 else 0 for row in F])


def accuracy(y_true, y_pred):
    right = 0
    for truth, guess in zip(y_true, y_pred):
        right += int(truth == guess)
    return right / len(y_true)''',
    }),
    Variant("tanh_sigmoid", "sigmoid as (1 + tanh(z/2)) / 2, the loss split by label, the "
            "gradient as a weighted mean of the rows", {
        "logistic": '''def sigmoid(z):
    return (1 + np.tanh(np.asarray(z, dtype=float) / 2)) / 2


def logistic_loss(w, F, y):
    z = F @ w
    return float(np.mean(y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)))


def logistic_gradient(w, F, y):
    return np.mean((sigmoid(F @ w) - y)[:, None] * F, axis=0)''',
    }),
    Variant("helper_cells", "monomials from a generator in a helper cell; the standardiser with "
            "np.where and a multiplication", {
        "polynomial_features": '''def polynomial_features(X, degree):
    X = np.asarray(X, dtype=float)
    return np.column_stack(list(monomials(X[:, 0], X[:, 1], degree)))''',
        "standardiser": '''def fit_standardiser(F):
    F = np.array(F, dtype=float)
    mean = F.mean(axis=0)
    spread = F.std(axis=0)
    std = np.where(spread < 1e-12, 1.0, spread)
    mean[0] = 0.0
    std[0] = 1.0
    return mean, std


def standardise(F, mean, std):
    return (np.asarray(F, dtype=float) - mean) * (1.0 / std)''',
    }, helpers=(("polynomial_features", '''# My helper: the monomials of total degree 0..degree, in the order of the question.
def monomials(x1, x2, degree):
    for k in range(degree + 1):
        for j in range(k + 1):
            yield x1 ** (k - j) * x2 ** j'''),)),
    Variant("stable_by_hand", "the loss as max(z, 0) + log1p(e^-|z|) - yz, scipy's expit, "
            "np.where for the predictions, lr applied in place", {
        "logistic": '''from scipy.special import expit


def sigmoid(z):
    return expit(np.asarray(z, dtype=float))


def logistic_loss(w, F, y):
    z = F @ w
    return float(np.mean(np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z))) - y * z))


def logistic_gradient(w, F, y):
    return (F.T @ (sigmoid(F @ w) - y)) / F.shape[0]''',
        "gradient_descent": '''def fit_logistic(F, y, lr=0.5, steps=1000):
    w = np.zeros(F.shape[1])
    for _ in range(steps):
        w -= lr * logistic_gradient(w, F, y)
    return w


def predict(w, F):
    return np.where(F @ w >= 0, 1, 0)


def accuracy(y_true, y_pred):
    return float((np.asarray(y_true) == np.asarray(y_pred)).mean())''',
    }),
    Variant("helper_function_per_degree", "validation_accuracies as a list comprehension over a "
            "helper that handles one degree, with the defaults written out", {
        "validation_accuracies": '''def accuracy_at_degree(degree, X_train, y_train, X_val, y_val):
    F_train = polynomial_features(X_train, degree)
    mean, std = fit_standardiser(F_train)
    w = fit_logistic(standardise(F_train, mean, std), y_train, lr=0.5, steps=1000)
    F_val = standardise(polynomial_features(X_val, degree), mean, std)
    return accuracy(y_val, predict(w, F_val))


def validation_accuracies(X_train, y_train, X_val, y_val, max_degree=6):
    return [accuracy_at_degree(d, X_train, y_train, X_val, y_val) for d in range(max_degree + 1)]''',
    }),
    Variant("powers_table", "monomials as products of a table of powers; sigmoid from "
            "exp(min(z, 0)) / (1 + exp(-|z|))", {
        "polynomial_features": '''def polynomial_features(X, degree):
    X = np.asarray(X, dtype=float)
    powers = [(k - j, j) for k in range(degree + 1) for j in range(k + 1)]
    return np.column_stack([np.prod(X ** np.array(p, dtype=float), axis=1) for p in powers])''',
        "logistic": '''def sigmoid(z):
    z = np.asarray(z, dtype=float)
    return np.exp(np.minimum(z, 0)) / (1 + np.exp(-np.abs(z)))


def logistic_loss(w, F, y):
    z = F @ w
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def logistic_gradient(w, F, y):
    errors = sigmoid(F @ w) - y
    return errors @ F / len(y)''',
    }),
]

HW2 = [
    Variant("loops", "layers as a list of (W, b) pairs, a flat-index finite difference, SGD and "
            "batches written as loops", {
        "init_params": '''def init_params(sizes, seed=0):
    rng = np.random.default_rng(seed)
    params = {}
    for i in range(1, len(sizes)):
        fan_in, fan_out = sizes[i - 1], sizes[i]
        params["W" + str(i)] = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
        params["b" + str(i)] = np.zeros(fan_out)
    return params''',
        "forward": '''def relu(z):
    return np.where(z > 0, z, 0.0)


def forward(params, X):
    layers = [(params[f"W{i}"], params[f"b{i}"]) for i in range(1, len(params) // 2 + 1)]
    h = np.asarray(X, dtype=float)
    cache = {"h0": h}
    for i, (W, b) in enumerate(layers, start=1):
        z = np.dot(h, W) + b
        h = z if i == len(layers) else relu(z)
        cache["z" + str(i)] = z
        cache["h" + str(i)] = h
    return h, cache''',
        "numerical_gradient": '''def numerical_gradient(params, X, y, name, eps=1e-5):
    shape = params[name].shape
    grad = np.zeros(params[name].size)
    for j in range(params[name].size):
        losses = []
        for sign in (1, -1):
            moved = {k: v.copy() for k, v in params.items()}
            moved[name].flat[j] += sign * eps
            losses.append(softmax_cross_entropy(forward(moved, X)[0], y)[0])
        grad[j] = (losses[0] - losses[1]) / (2 * eps)
    return grad.reshape(shape)''',
        "train_mlp": '''def sgd_step(params, grads, lr):
    new = {}
    for key, value in params.items():
        new[key] = value - lr * grads[key]
    return new


def train_mlp(X, y, sizes, epochs=200, lr=0.2, batch_size=32, seed=0):
    params = init_params(sizes, seed=seed)
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        perm = rng.permutation(X.shape[0])
        batches = [perm[i:i + batch_size] for i in range(0, len(perm), batch_size)]
        for batch in batches:
            logits, cache = forward(params, X[batch])
            loss, dlogits = softmax_cross_entropy(logits, y[batch])
            params = sgd_step(params, backward(params, cache, dlogits), lr)
    return params''',
    }),
    Variant("logsumexp", "softmax from scipy's logsumexp and a one-hot matrix; the finite "
            "difference moves one copy and puts the entry back exactly", {
        "softmax_cross_entropy": '''from scipy.special import logsumexp


def softmax_cross_entropy(logits, y):
    n, k = logits.shape
    log_p = logits - logsumexp(logits, axis=1, keepdims=True)
    loss = -np.mean(log_p[np.arange(n), y])
    onehot = np.eye(k)[y]
    return float(loss), (np.exp(log_p) - onehot) / n''',
        "numerical_gradient": '''def numerical_gradient(params, X, y, name, eps=1e-5):
    work = {k: v.copy() for k, v in params.items()}
    grad = np.zeros_like(work[name], dtype=float)
    for idx in np.ndindex(grad.shape):
        old = work[name][idx]
        work[name][idx] = old + eps
        up = softmax_cross_entropy(forward(work, X)[0], y)[0]
        work[name][idx] = old - eps
        down = softmax_cross_entropy(forward(work, X)[0], y)[0]
        work[name][idx] = old
        grad[idx] = (up - down) / (2 * eps)
    return grad''',
    }),
    Variant("module_list", "the torch MLP as an nn.ModuleList with torch.relu in forward; "
            "count_parameters counts trainable tensors", {
        "torch_mlp": '''class MLP(nn.Module):
    """Linear layers of the given sizes with ReLU between them; outputs logits."""

    def __init__(self, in_features, hidden_sizes, out_features):
        super().__init__()
        sizes = [in_features, *hidden_sizes, out_features]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return self.layers[-1](x)


def count_parameters(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)''',
    }),
    Variant("index_select", "train_torch with index_select, zero_grad(set_to_none=True) and "
            "the loss summed as a tensor", {
        "train_torch": '''def train_torch(model, X, y, epochs=100, lr=0.01, batch_size=32, seed=0):
    X = torch.tensor(X, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.long)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss()
    g = torch.Generator()
    g.manual_seed(seed)
    history = []
    n = X.shape[0]
    for epoch in range(epochs):
        perm = torch.randperm(n, generator=g)
        running = torch.zeros((), dtype=torch.float64)
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            xb, yb = X.index_select(0, idx), y.index_select(0, idx)
            opt.zero_grad(set_to_none=True)
            loss = criterion(model(xb), yb)
            loss.backward()
            opt.step()
            running += loss.detach().double() * idx.numel()
        history.append(running.item() / n)
    return history''',
    }),
    Variant("relu_mask_from_h", "ReLU as z * (z > 0); backward masks with h > 0 and uses the "
            "layer count from a helper cell", {
        "forward": '''def relu(z):
    return z * (z > 0)


def forward(params, X):
    h = np.asarray(X, dtype=float)
    cache = {"h0": h}
    last = layer_count(params)
    for i in range(1, last + 1):
        z = h @ params[f"W{i}"] + params[f"b{i}"]
        h = relu(z) if i != last else z
        cache[f"z{i}"] = z
        cache[f"h{i}"] = h
    return h, cache''',
        "backward": '''def backward(params, cache, dlogits):
    grads = {}
    g = dlogits
    last = layer_count(params)
    for i in reversed(range(1, last + 1)):
        if i != last:
            g = g * (cache[f"h{i}"] > 0)  # h = relu(z) > 0 exactly where z > 0
        grads[f"W{i}"] = np.dot(cache[f"h{i - 1}"].T, g)
        grads[f"b{i}"] = np.sum(g, axis=0)
        g = np.dot(g, params[f"W{i}"].T)
    return grads''',
    }, helpers=(("forward", '''# helper: how many layers a parameter dict holds
def layer_count(params):
    return len([k for k in params if k.startswith("W")])'''),)),
    Variant("separate_output_layer", "the torch MLP as hidden layers in a ModuleList, an output "
            "layer and one nn.ReLU module", {
        "torch_mlp": '''class MLP(nn.Module):
    def __init__(self, in_features, hidden_sizes, out_features):
        super().__init__()
        widths = [in_features] + list(hidden_sizes)
        self.hidden = nn.ModuleList([nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:])])
        self.out = nn.Linear(widths[-1], out_features)
        self.act = nn.ReLU()

    def forward(self, x):
        for layer in self.hidden:
            x = self.act(layer(x))
        return self.out(x)


def count_parameters(model):
    total = 0
    for p in model.parameters():
        total += p.numel()
    return total''',
    }),
]

HW3 = [
    Variant("subsets", "the split as torch Subsets of one TensorDataset, round() without int()", {
        "get_device": '''def get_device():
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")''',
        "make_loaders": '''def make_loaders(X, y, batch_size=128, val_fraction=0.2, seed=0):
    dataset = TensorDataset(X, y)
    perm = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
    n_val = round(val_fraction * len(dataset))
    val_set = torch.utils.data.Subset(dataset, perm[:n_val].tolist())
    train_set = torch.utils.data.Subset(dataset, perm[n_val:].tolist())
    g = torch.Generator()
    g.manual_seed(seed)
    return (DataLoader(train_set, batch_size=batch_size, shuffle=True, generator=g),
            DataLoader(val_set, batch_size=batch_size))''',
    }),
    Variant("non_blocking", "train_one_epoch with non_blocking copies, zero_grad(set_to_none=True) "
            "and float(loss)", {
        "train_one_epoch": '''def train_one_epoch(model, loader, optimizer, loss_fn, device):
    model.train()
    seen, running = 0, 0.0
    use_amp = device.type == "cuda"
    for inputs, targets in loader:
        inputs = inputs.to(device, non_blocking=True)
        targets = targets.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            outputs = model(inputs)
            loss = loss_fn(outputs, targets)
        loss.backward()
        optimizer.step()
        running += float(loss) * targets.shape[0]
        seen += targets.shape[0]
    return running / seen''',
    }),
    Variant("inference_mode", "evaluate under torch.inference_mode(), losses kept in a list", {
        "evaluate": '''def evaluate(model, loader, loss_fn, device):
    model.eval()
    losses, hits, n = [], 0, 0
    with torch.inference_mode():
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16,
                                enabled=device.type == "cuda"):
                out = model(xb)
                losses.append(loss_fn(out, yb).item() * yb.numel())
            hits += int((out.argmax(1) == yb).sum())
            n += yb.numel()
    return sum(losses) / n, hits / n''',
    }),
    Variant("best_weights_on_cpu", "fit keeps the best weights as CPU clones, counts bad epochs "
            "and compares with None first", {
        "fit": '''def fit(model, train_loader, val_loader, epochs=30, lr=1e-3, patience=3, device=None):
    if device is None:
        device = get_device()
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    history = {"train_loss": [], "val_loss": [], "val_accuracy": []}
    best, best_weights, bad_epochs = None, None, 0
    for epoch in range(epochs):
        train_loss = train_one_epoch(model, train_loader, optimizer, loss_fn, device)
        val_loss, val_accuracy = evaluate(model, val_loader, loss_fn, device)
        for key, value in zip(history, (train_loss, val_loss, val_accuracy)):
            history[key].append(value)
        if best is None or val_loss < best:
            best = val_loss
            best_weights = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            bad_epochs = 0
        else:
            bad_epochs += 1
            if bad_epochs == patience:
                break
    model.load_state_dict(best_weights)
    return history''',
    }),
    Variant("best_epoch_index", "fit tracks the best epoch's index and stops "
            "`patience` epochs after it", {
        "fit": '''def fit(model, train_loader, val_loader, epochs=30, lr=1e-3, patience=3, device=None):
    device = get_device() if device is None else device
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    history = {"train_loss": [], "val_loss": [], "val_accuracy": []}
    best_epoch, best_state = -1, None
    for epoch in range(epochs):
        history["train_loss"].append(train_one_epoch(model, train_loader, optimizer, loss_fn, device))
        val_loss, val_accuracy = evaluate(model, val_loader, loss_fn, device)
        earlier = history["val_loss"][:]
        history["val_loss"].append(val_loss)
        history["val_accuracy"].append(val_accuracy)
        if not earlier or val_loss < min(earlier):
            best_epoch, best_state = epoch, copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= patience:
            break
    model.load_state_dict(best_state)
    return history''',
    }),
    Variant("helper_cells", "batches moved by a generator and the autocast context chosen by "
            "helpers in their own cell; evaluate decorated with torch.no_grad()", {
        "train_one_epoch": '''def train_one_epoch(model, loader, optimizer, loss_fn, device):
    model.train()
    total, count = 0.0, 0
    for xb, yb in on_device(loader, device):
        optimizer.zero_grad()
        with mixed_precision(device):
            loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item() * yb.shape[0]
        count += yb.shape[0]
    return total / count''',
        "evaluate": '''@torch.no_grad()
def evaluate(model, loader, loss_fn, device):
    model.eval()
    total, correct, count = 0.0, 0, 0
    for xb, yb in on_device(loader, device):
        with mixed_precision(device):
            logits = model(xb)
            total += loss_fn(logits, yb).item() * len(yb)
        correct += (logits.argmax(dim=1) == yb).sum().item()
        count += len(yb)
    return total / count, correct / count''',
    }, helpers=(("train_one_epoch", '''import contextlib


def on_device(loader, device):
    """The loader's batches, moved to the device."""
    for xb, yb in loader:
        yield xb.to(device), yb.to(device)


def mixed_precision(device):
    """bfloat16 autocast on a GPU, nothing on the CPU."""
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()'''),)),
]

VARIANTS: dict[str, list[Variant]] = {"hw1_features": HW1, "hw2_mlp": HW2, "hw3_training": HW3}


class StaleVariant(Exception):
    pass


def rewrite(solution, variant: Variant, assignment: str):
    """The solution with the variant's answer cells, and its helper cells inserted."""
    nb = copy.deepcopy(solution)
    by_id = {c.grade_id: c.index for c in cells_of(nb) if c.grade_id}
    for grade_id, code in variant.answers.items():
        if grade_id not in by_id:
            raise StaleVariant(f"{assignment}/{variant.name}: no answer cell {grade_id!r}")
        nb.cells[by_id[grade_id]].source = code
    missing = [before for before, _ in variant.helpers if before not in by_id]
    if missing:
        raise StaleVariant(f"{assignment}/{variant.name}: no answer cell {missing[0]!r}")
    # From the bottom up, so that the positions found above stay right.
    for n, (before, code) in sorted(enumerate(variant.helpers), key=lambda h: -by_id[h[1][0]]):
        cell = new_code_cell(code)
        cell.id = f"helper-{n + 1}"  # fixed: new_code_cell's random id would change each run
        nb.cells.insert(by_id[before], cell)
    nb.metadata["autograder"] = {**nb.metadata.get("autograder", {}), "variant": {
        "name": variant.name, "how": variant.how}}
    return nb


def planned(course, assignments) -> dict[Path, bytes]:
    files = {}
    for assignment in assignments:
        solution = solution_notebook(course, assignment)
        for variant in VARIANTS[assignment]:
            files[HERE / assignment / f"{variant.name}.ipynb"] = notebook_bytes(
                rewrite(solution, variant, assignment))
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", help="default: every homework with variants")
    parser.add_argument("--check", action="store_true", help="only report stale or missing files")
    args = parser.parse_args(argv)
    assignments = args.assignments or list(VARIANTS)
    unknown = [a for a in assignments if a not in VARIANTS]
    if unknown:
        print(f"make_variants: no variants are listed for {', '.join(unknown)} in "
              f"{Path(__file__).name}; add them to VARIANTS", file=sys.stderr)
        return 2
    try:
        files = planned(load_course(ROOT / "course.toml"), assignments)
    except (StaleVariant, AutograderError) as exc:
        print(f"make_variants: {exc}", file=sys.stderr)
        return 1
    return sync(files, HERE, assignments, root=ROOT, check=args.check)


if __name__ == "__main__":
    sys.exit(main())
