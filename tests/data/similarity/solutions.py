"""Independent correct answers to hw2_mlp, written four ways, for the similarity tests.

Each solution gives, per answer cell, the code that replaces each `# YOUR CODE HERE` /
`raise NotImplementedError()` of the released stub, in order. The four were written
independently of each other in different styles (dict comprehensions and f-strings; while loops
and string concatenation; %-formatting, einsum and closures; matmul, heaviside and pre-shuffled
arrays); make.py checks every one against the instructor's solution before writing a notebook.
`delta` answers only the second half of the notebook: it is the half-copied notebook's own work.
"""

ALPHA = {
    "init_params": ["""
rng = np.random.default_rng(seed)
params = {}
for layer in range(1, len(sizes)):
    fan_in, fan_out = sizes[layer - 1], sizes[layer]
    params["W" + str(layer)] = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
    params["b" + str(layer)] = np.zeros(fan_out)
return params
"""],
    "forward": ["""
return np.maximum(z, 0.0)
""", """
L = len(params) // 2
cache = {"h0": X}
h = X
for i in range(1, L + 1):
    z = h @ params[f"W{i}"] + params[f"b{i}"]
    if i == L:
        h = z
    else:
        h = relu(z)
    cache[f"z{i}"] = z
    cache[f"h{i}"] = h
return h, cache
"""],
    "softmax_cross_entropy": ["""
n = logits.shape[0]
z = logits - np.max(logits, axis=1, keepdims=True)
log_sum = np.log(np.sum(np.exp(z), axis=1))
loss = np.mean(log_sum - z[np.arange(n), y])
probs = np.exp(z - log_sum[:, None])
probs[np.arange(n), y] -= 1
return float(loss), probs / n
"""],
    "numerical_gradient": ["""
grad = np.zeros_like(params[name], dtype=float)
it = np.nditer(params[name], flags=["multi_index"])
while not it.finished:
    idx = it.multi_index
    shifted = {k: v.copy() for k, v in params.items()}
    shifted[name][idx] = params[name][idx] + eps
    up = softmax_cross_entropy(forward(shifted, X)[0], y)[0]
    shifted[name][idx] = params[name][idx] - eps
    down = softmax_cross_entropy(forward(shifted, X)[0], y)[0]
    grad[idx] = (up - down) / (2 * eps)
    it.iternext()
return grad
"""],
    "backward": ["""
L = len(params) // 2
grads = {}
delta = dlogits
for i in reversed(range(1, L + 1)):
    if i != L:
        delta = delta * (cache[f"z{i}"] > 0)
    grads[f"W{i}"] = cache[f"h{i - 1}"].T @ delta
    grads[f"b{i}"] = delta.sum(axis=0)
    delta = delta @ params[f"W{i}"].T
return grads
"""],
    "train_mlp": ["""
return {name: value - lr * grads[name] for name, value in params.items()}
""", """
params = init_params(sizes, seed)
rng = np.random.default_rng(seed)
for epoch in range(epochs):
    perm = rng.permutation(len(X))
    for i in range(0, len(X), batch_size):
        idx = perm[i:i + batch_size]
        logits, cache = forward(params, X[idx])
        loss, dlogits = softmax_cross_entropy(logits, y[idx])
        grads = backward(params, cache, dlogits)
        params = sgd_step(params, grads, lr)
return params
"""],
    "torch_mlp": ["""
sizes = [in_features] + list(hidden_sizes) + [out_features]
modules = []
for i in range(len(sizes) - 1):
    modules.append(nn.Linear(sizes[i], sizes[i + 1]))
    if i < len(sizes) - 2:
        modules.append(nn.ReLU())
self.layers = nn.Sequential(*modules)
""", """
return self.layers(x)
""", """
return sum(p.numel() for p in model.parameters() if p.requires_grad)
"""],
    "train_torch": ["""
X_t = torch.tensor(X, dtype=torch.float32)
y_t = torch.tensor(y, dtype=torch.long)
opt = torch.optim.Adam(model.parameters(), lr=lr)
criterion = nn.CrossEntropyLoss()
gen = torch.Generator().manual_seed(seed)
history = []
for epoch in range(epochs):
    perm = torch.randperm(len(X_t), generator=gen)
    running, seen = 0.0, 0
    for i in range(0, len(X_t), batch_size):
        idx = perm[i:i + batch_size]
        opt.zero_grad()
        loss = criterion(model(X_t[idx]), y_t[idx])
        loss.backward()
        opt.step()
        running += loss.item() * len(idx)
        seen += len(idx)
    history.append(running / seen)
return history
"""],
}

BETA = {
    "init_params": ["""
generator = np.random.default_rng(seed)
weights = dict()
pairs = list(zip(sizes, sizes[1:]))
for k in range(len(pairs)):
    n_in, n_out = pairs[k]
    std = (2.0 / n_in) ** 0.5
    weights[f"W{k + 1}"] = generator.normal(0.0, std, size=(n_in, n_out))
    weights[f"b{k + 1}"] = np.zeros(n_out)
return weights
"""],
    "forward": ["""
return np.where(z > 0, z, 0.0)
""", """
n_layers = len([k for k in params if k.startswith("W")])
activations = {"h0": np.asarray(X, dtype=float)}
current = activations["h0"]
layer = 1
while layer <= n_layers:
    pre = np.dot(current, params["W" + str(layer)]) + params["b" + str(layer)]
    activations["z" + str(layer)] = pre
    current = pre if layer == n_layers else relu(pre)
    activations["h" + str(layer)] = current
    layer += 1
return current, activations
"""],
    "softmax_cross_entropy": ["""
count, classes = logits.shape
onehot = np.zeros((count, classes))
onehot[np.arange(count), y] = 1.0
m = logits.max(axis=1)[:, None]
lse = m + np.log(np.exp(logits - m).sum(axis=1))[:, None]
log_probs = logits - lse
loss = -(onehot * log_probs).sum() / count
dlogits = (np.exp(log_probs) - onehot) / count
return float(loss), dlogits
"""],
    "numerical_gradient": ["""
def loss_at(p):
    return softmax_cross_entropy(forward(p, X)[0], y)[0]

base = params[name]
flat = base.astype(float).ravel()
result = np.empty_like(flat)
for j in range(flat.size):
    deltas = []
    for sign in (+1, -1):
        moved = dict(params)
        bumped = flat.copy()
        bumped[j] += sign * eps
        moved[name] = bumped.reshape(base.shape)
        deltas.append(loss_at(moved))
    result[j] = (deltas[0] - deltas[1]) / (2 * eps)
return result.reshape(base.shape)
"""],
    "backward": ["""
layers = len(params) // 2
out = dict()
upstream = np.asarray(dlogits, dtype=float)
layer = layers
while layer >= 1:
    if layer < layers:
        mask = (cache["z" + str(layer)] > 0).astype(float)
        upstream = upstream * mask
    below = cache["h" + str(layer - 1)]
    out["W" + str(layer)] = np.dot(below.T, upstream)
    out["b" + str(layer)] = np.sum(upstream, axis=0)
    upstream = np.dot(upstream, params["W" + str(layer)].T)
    layer -= 1
return out
"""],
    "train_mlp": ["""
updated = {}
for key in params:
    updated[key] = params[key] - lr * grads[key]
return updated
""", """
weights = init_params(sizes, seed)
generator = np.random.default_rng(seed)
n_samples = X.shape[0]
n_batches = int(np.ceil(n_samples / batch_size))
for _ in range(epochs):
    shuffled = generator.permutation(n_samples)
    for b in range(n_batches):
        rows = shuffled[b * batch_size:(b + 1) * batch_size]
        out, saved = forward(weights, X[rows])
        _, d_out = softmax_cross_entropy(out, y[rows])
        weights = sgd_step(weights, backward(weights, saved, d_out), lr)
return weights
"""],
    "torch_mlp": ["""
self.hidden = nn.ModuleList()
previous = in_features
for width in hidden_sizes:
    self.hidden.append(nn.Linear(previous, width))
    previous = width
self.output = nn.Linear(previous, out_features)
""", """
for layer in self.hidden:
    x = torch.relu(layer(x))
return self.output(x)
""", """
total = 0
for parameter in model.parameters():
    if parameter.requires_grad:
        total += parameter.numel()
return total
"""],
    "train_torch": ["""
inputs = torch.from_numpy(np.asarray(X, dtype=np.float32))
targets = torch.from_numpy(np.asarray(y, dtype=np.int64))
optimizer = torch.optim.Adam(model.parameters(), lr=lr)
loss_fn = nn.CrossEntropyLoss()
generator = torch.Generator().manual_seed(seed)
epoch_losses = []
n = inputs.shape[0]
for _ in range(epochs):
    order = torch.randperm(n, generator=generator)
    batch_losses = []
    for chunk in torch.split(order, batch_size):
        optimizer.zero_grad()
        batch_loss = loss_fn(model(inputs[chunk]), targets[chunk])
        batch_loss.backward()
        optimizer.step()
        batch_losses.append(batch_loss.item() * chunk.numel())
    epoch_losses.append(sum(batch_losses) / n)
return epoch_losses
"""],
}

GAMMA = {
    "init_params": ["""
rng = np.random.default_rng(seed)
Ws = [rng.normal(0.0, np.sqrt(2.0 / a), size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
out = {}
for i, W in enumerate(Ws, start=1):
    out["W%d" % i] = W
    out["b%d" % i] = np.zeros(W.shape[1])
return out
"""],
    "forward": ["""
out = np.array(z, dtype=float)
out[out < 0] = 0.0
return out
""", """
depth = len(params) // 2
cache = {}
a = X
cache["h0"] = a
for l in range(1, depth):
    z = a.dot(params["W%d" % l]) + params["b%d" % l]
    a = relu(z)
    cache["z%d" % l], cache["h%d" % l] = z, a
logits = a.dot(params["W%d" % depth]) + params["b%d" % depth]
cache["z%d" % depth] = logits
cache["h%d" % depth] = logits
return logits, cache
"""],
    "softmax_cross_entropy": ["""
total = 0.0
grad = np.zeros_like(logits, dtype=float)
for i in range(len(y)):
    row = logits[i] - np.max(logits[i])
    norm = np.log(np.sum(np.exp(row)))
    total += norm - row[y[i]]
    grad[i] = np.exp(row - norm)
    grad[i, y[i]] -= 1.0
return float(total / len(y)), grad / len(y)
"""],
    "numerical_gradient": ["""
import copy
work = copy.deepcopy(params)
target = work[name]
grad = np.zeros(target.shape)
for position in np.ndindex(*target.shape):
    original = target[position]
    target[position] = original + eps
    f_plus, _ = softmax_cross_entropy(forward(work, X)[0], y)
    target[position] = original - eps
    f_minus, _ = softmax_cross_entropy(forward(work, X)[0], y)
    target[position] = original
    grad[position] = (f_plus - f_minus) / (2 * eps)
return grad
"""],
    "backward": ["""
depth = len(params) // 2
g = {}
d_out = dlogits
for l in range(depth, 0, -1):
    g["W%d" % l] = np.einsum("ni,nj->ij", cache["h%d" % (l - 1)], d_out)
    g["b%d" % l] = d_out.sum(0)
    if l > 1:
        d_out = np.where(cache["z%d" % (l - 1)] > 0, d_out @ params["W%d" % l].T, 0.0)
return g
"""],
    "train_mlp": ["""
new = {k: v.copy() for k, v in params.items()}
for k in new:
    new[k] -= lr * grads[k]
return new
""", """
p = init_params(sizes, seed)
rng = np.random.default_rng(seed)

def step(batch):
    logits, cache = forward(p, X[batch])
    dl = softmax_cross_entropy(logits, y[batch])[1]
    return sgd_step(p, backward(p, cache, dl), lr)

epoch = 0
while epoch < epochs:
    order = rng.permutation(len(X))
    batches = np.array_split(order, range(batch_size, len(X), batch_size))
    for batch in batches:
        p = step(batch)
    epoch += 1
return p
"""],
    "torch_mlp": ["""
dims = [in_features, *hidden_sizes, out_features]
self.linears = nn.ModuleList([nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:])])
self.act = nn.ReLU()
""", """
*hidden, last = self.linears
for lin in hidden:
    x = self.act(lin(x))
return last(x)
""", """
return int(np.sum([np.prod(p.shape) for p in model.parameters() if p.requires_grad]))
"""],
    "train_torch": ["""
data = torch.as_tensor(np.array(X), dtype=torch.float32)
labels = torch.as_tensor(np.array(y)).long()
adam = torch.optim.Adam(model.parameters(), lr=lr)
ce = nn.CrossEntropyLoss(reduction="sum")
g = torch.Generator().manual_seed(seed)

def run_epoch():
    order = torch.randperm(len(X), generator=g)
    total = 0.0
    start = 0
    while start < len(order):
        idx = order[start:start + batch_size]
        adam.zero_grad()
        summed = ce(model(data[idx]), labels[idx])
        (summed / len(idx)).backward()
        adam.step()
        total += summed.item()
        start += batch_size
    return total / len(order)

return [run_epoch() for _ in range(epochs)]
"""],
}

DELTA = {
    "backward": ["""
n_layers = len(params) // 2
grads = {}
grad_h = dlogits
for layer in range(n_layers, 0, -1):
    grad_z = grad_h if layer == n_layers else grad_h * np.heaviside(cache[f"z{layer}"], 0.0)
    grads[f"W{layer}"] = np.matmul(cache[f"h{layer - 1}"].T, grad_z)
    grads[f"b{layer}"] = grad_z.sum(axis=0)
    grad_h = np.matmul(grad_z, params[f"W{layer}"].T)
return grads
"""],
    "train_mlp": ["""
return dict((k, np.subtract(v, lr * grads[k])) for k, v in params.items())
""", """
params = init_params(sizes, seed)
rng = np.random.default_rng(seed)
batches_per_epoch = range(0, len(X), batch_size)
for _ in range(epochs):
    shuffled = rng.permutation(len(X))
    X_shuffled, y_shuffled = X[shuffled], y[shuffled]
    for first in batches_per_epoch:
        xb = X_shuffled[first:first + batch_size]
        yb = y_shuffled[first:first + batch_size]
        scores, memo = forward(params, xb)
        _, dscores = softmax_cross_entropy(scores, yb)
        params = sgd_step(params, backward(params, memo, dscores), lr)
return params
"""],
    "torch_mlp": ["""
widths = [in_features] + list(hidden_sizes)
blocks = []
for fan_in, fan_out in zip(widths, widths[1:]):
    blocks += [nn.Linear(fan_in, fan_out), nn.ReLU()]
self.body = nn.Sequential(*blocks)
self.head = nn.Linear(widths[-1], out_features)
""", """
return self.head(self.body(x))
""", """
return sum(map(lambda t: t.numel(), filter(lambda t: t.requires_grad, model.parameters())))
"""],
    "train_torch": ["""
features = torch.tensor(np.asarray(X), dtype=torch.float32)
classes = torch.tensor(np.asarray(y), dtype=torch.long)
step = torch.optim.Adam(model.parameters(), lr=lr)
objective = nn.CrossEntropyLoss()
shuffle = torch.Generator().manual_seed(seed)
curve = []
for epoch in range(epochs):
    permutation = torch.randperm(len(features), generator=shuffle)
    weighted = 0.0
    for begin in range(0, len(permutation), batch_size):
        sel = permutation[begin:begin + batch_size]
        step.zero_grad()
        value = objective(model(features[sel]), classes[sel])
        value.backward()
        step.step()
        weighted += float(value) * sel.shape[0]
    curve.append(weighted / len(features))
return curve
"""],
}

SOLUTIONS = {"alpha": ALPHA, "beta": BETA, "gamma": GAMMA, "delta": DELTA}
