"""Write tests/data/mutants/<hw>/<mistake>.ipynb: the filled solution with one realistic mistake.

Each mutant is one text substitution in one answer cell of the solution notebook (the source with
its hidden tests removed, as `autograder release` writes it). A substitution that no longer
matches the solution fails loudly, so the mutants stay in step with the source: run this after
editing a source notebook, and commit what it writes.

    python tests/data/mutants/make_mutants.py            # write every mutant
    python tests/data/mutants/make_mutants.py --check    # exit 1 if a committed mutant is stale

`autograder validate` grades every mutant and requires each to lose points. A mutant whose
mistake only shows on a GPU (say, a batch left on the CPU) says so in its metadata
(`autograder.mutant.needs_gpu`); on a machine without a GPU it is reported, not counted.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE.parent))

from autograder.config import load_course  # noqa: E402
from autograder.errors import AutograderError  # noqa: E402
from autograder.notebook import cells_of  # noqa: E402
from autograder.notebook import notebook_bytes  # noqa: E402
from fixture_files import solution_notebook, sync  # noqa: E402


@dataclass(frozen=True)
class Mutant:
    name: str  # file name, and what the mistake is
    cell: str  # grade_id of the answer cell it changes
    old: str  # text of the solution, must occur exactly once in that cell
    new: str
    mistake: str  # one line for the validation table and the reader
    needs_gpu: bool = False  # the mistake only costs points where a GPU grades it
    more: tuple[tuple[str, str], ...] = ()  # further (old, new) pairs in the same cell


MUTANTS: dict[str, list[Mutant]] = {
    "hw1_features": [
        Mutant("no_bias_column", "polynomial_features",
               "for k in range(degree + 1)", "for k in range(1, degree + 1)",
               "polynomial features without the bias column of ones"),
        Mutant("monomials_in_wrong_order", "polynomial_features",
               "x1 ** (k - j) * x2 ** j", "x1 ** j * x2 ** (k - j)",
               "monomials ordered by increasing power of x1"),
        Mutant("bias_column_standardised", "standardiser",
               "    mean[0], std[0] = 0.0, 1.0\n", "",
               "the bias column standardised like the others (it becomes zeros)"),
        Mutant("standardised_with_validation_statistics", "validation_accuracies",
               "out.append(accuracy(y_val, predict(w, standardise(F_val, mean, std))))",
               "out.append(accuracy(y_val, predict(w, standardise(F_val, *fit_standardiser(F_val)))))",
               "validation features standardised with their own statistics"),
        Mutant("gradient_wrong_sign", "logistic",
               "F.T @ (sigmoid(F @ w) - y) / len(y)", "F.T @ (y - sigmoid(F @ w)) / len(y)",
               "gradient with the wrong sign (gradient ascent)"),
        Mutant("gradient_summed_not_averaged", "logistic",
               "F.T @ (sigmoid(F @ w) - y) / len(y)", "F.T @ (sigmoid(F @ w) - y)",
               "gradient of the summed loss, the loss being a mean"),
        Mutant("loss_overflows", "logistic",
               "np.mean(np.logaddexp(0.0, z) - y * z)",
               "np.mean(-y * np.log(sigmoid(z)) - (1 - y) * np.log(1 - sigmoid(z)))",
               "cross-entropy from probabilities: log(0) for confident predictions"),
        Mutant("threshold_on_logits_at_half", "gradient_descent",
               "(F @ w >= 0).astype(int)", "(F @ w >= 0.5).astype(int)",
               "predicts class 1 where w.f >= 1/2 (confuses logits and probabilities)"),
        Mutant("one_step_too_few", "gradient_descent",
               "for _ in range(steps):", "for _ in range(steps - 1):",
               "gradient descent stops one step early"),
        Mutant("accuracy_is_error_rate", "gradient_descent",
               "np.mean(np.asarray(y_true) == np.asarray(y_pred))",
               "np.mean(np.asarray(y_true) != np.asarray(y_pred))",
               "accuracy computes the error rate"),
        Mutant("loss_log_of_one_plus_exp", "logistic",
               "np.mean(np.logaddexp(0.0, z) - y * z)", "np.mean(np.log(1 + np.exp(z)) - y * z)",
               "log(1 + e^z) overflows to inf for z > 709"),
        Mutant("loss_log1p_of_exp", "logistic",
               "np.mean(np.logaddexp(0.0, z) - y * z)", "np.mean(np.log1p(np.exp(z)) - y * z)",
               "log1p(e^z) still overflows for z > 709"),
        Mutant("sigmoid_exp_over_one_plus_exp", "logistic",
               "    e = np.exp(-np.abs(z))\n    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))",
               "    return np.exp(z) / (1.0 + np.exp(z))",
               "sigmoid as e^z / (1 + e^z): inf / inf for large z"),
        Mutant("linear_regression_gradient", "logistic",
               "F.T @ (sigmoid(F @ w) - y) / len(y)", "F.T @ (F @ w - y) / len(y)",
               "the gradient of the squared error (no sigmoid)"),
        Mutant("std_replaced_only_when_zero", "standardiser",
               "std[std < 1e-12] = 1.0", "std[std == 0] = 1.0",
               "a tiny but nonzero standard deviation is divided by"),
        Mutant("std_compared_with_isclose", "standardiser",
               "std[std < 1e-12] = 1.0", "std[np.isclose(std, 0)] = 1.0",
               "np.isclose(std, 0) also replaces standard deviations up to 1e-8"),
        Mutant("std_with_ddof_one", "standardiser",
               "F.std(axis=0)", "F.std(axis=0, ddof=1)",
               "the sample standard deviation (ddof=1), not numpy's default"),
        Mutant("standardise_in_place", "standardiser",
               "    return (np.asarray(F, dtype=float) - mean) / std",
               "    F = np.asarray(F, dtype=float)\n    F -= mean\n    F /= std\n    return F",
               "standardise overwrites the caller's feature matrix"),
        Mutant("fit_logistic_ignores_lr", "gradient_descent",
               "w = w - lr * logistic_gradient(w, F, y)", "w = w - 0.5 * logistic_gradient(w, F, y)",
               "the learning rate is hard-coded at its default"),
        Mutant("weights_not_from_zero", "gradient_descent",
               "w = np.zeros(F.shape[1])", "w = np.full(F.shape[1], 0.01)",
               "gradient descent starts from 0.01, not from 0"),
        Mutant("accuracy_counts_hits", "gradient_descent",
               "float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))",
               "float(np.sum(np.asarray(y_true) == np.asarray(y_pred)))",
               "accuracy returns the number of correct predictions"),
        Mutant("validation_with_another_learning_rate", "validation_accuracies",
               "w = fit_logistic(standardise(F_train, mean, std), y_train)",
               "w = fit_logistic(standardise(F_train, mean, std), y_train, lr=0.1)",
               "validation_accuracies trains with lr=0.1, not the default"),
        Mutant("standardiser_fitted_on_all_data", "validation_accuracies",
               "mean, std = fit_standardiser(F_train)",
               "mean, std = fit_standardiser(np.vstack([F_train, F_val]))",
               "the standardiser sees the validation features too (leakage)"),
        Mutant("features_not_standardised", "validation_accuracies",
               "        w = fit_logistic(standardise(F_train, mean, std), y_train)\n"
               "        out.append(accuracy(y_val, predict(w, standardise(F_val, mean, std))))",
               "        w = fit_logistic(F_train, y_train)\n"
               "        out.append(accuracy(y_val, predict(w, F_val)))",
               "logistic regression on raw polynomial features"),
    ],
    "hw2_mlp": [
        Mutant("init_scale_without_factor_two", "init_params",
               "np.sqrt(2.0 / fan_in)", "np.sqrt(1.0 / fan_in)",
               "weights drawn with variance 1/fan_in instead of He's 2/fan_in"),
        Mutant("relu_on_the_logits", "forward",
               "h = relu(z) if i < n_layers else z", "h = relu(z)",
               "ReLU applied to the output layer too"),
        Mutant("softmax_without_max_shift", "softmax_cross_entropy",
               "shifted = logits - logits.max(axis=1, keepdims=True)", "shifted = logits",
               "softmax without subtracting the row maximum: overflow on large logits"),
        Mutant("dlogits_not_divided_by_n", "softmax_cross_entropy",
               "return float(loss), dlogits / n", "return float(loss), dlogits",
               "gradient of the summed loss, the loss being a mean"),
        Mutant("one_sided_difference_halved", "numerical_gradient",
               "(loss_plus - loss_minus) / (2 * eps)", "(loss_plus - loss_minus) / eps",
               "central difference divided by eps instead of 2 eps"),
        Mutant("backward_without_relu_mask", "backward",
               "g = g * (cache[f\"z{i}\"] > 0)", "g = g",
               "backward pass ignores the ReLU (gradient flows through units that were off)"),
        Mutant("bias_gradient_averaged", "backward",
               "grads[f\"b{i}\"] = g.sum(axis=0)", "grads[f\"b{i}\"] = g.mean(axis=0)",
               "bias gradient averaged over the batch a second time"),
        Mutant("sgd_step_uphill", "train_mlp",
               "params[k] - lr * grads[k]", "params[k] + lr * grads[k]",
               "SGD step along the gradient instead of against it"),
        Mutant("softmax_applied_twice", "torch_mlp",
               "return self.net(x)", "return torch.softmax(self.net(x), dim=1)",
               "the model outputs probabilities and CrossEntropyLoss applies softmax again"),
        Mutant("hidden_sizes_ignored", "torch_mlp",
               "for hidden in hidden_sizes:", "for hidden in hidden_sizes[:1]:",
               "only the first hidden size is used"),
        Mutant("parameters_without_biases", "torch_mlp",
               "sum(p.numel() for p in model.parameters())",
               "sum(p.numel() for name, p in model.named_parameters() if \"weight\" in name)",
               "count_parameters forgets the biases"),
        Mutant("no_zero_grad", "train_torch",
               "            optimizer.zero_grad()\n", "",
               "gradients accumulate across steps: no optimizer.zero_grad()"),
        Mutant("rng_restarted_per_layer", "init_params",
               "    rng = np.random.default_rng(seed)\n    params = {}\n"
               "    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):\n",
               "    params = {}\n"
               "    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):\n"
               "        rng = np.random.default_rng(seed)\n",
               "a new generator for each layer: every layer starts the same stream"),
        Mutant("max_shift_over_the_whole_batch", "softmax_cross_entropy",
               "logits - logits.max(axis=1, keepdims=True)", "logits - logits.max()",
               "one max for the whole batch: rows far below it underflow to log(0)"),
        Mutant("max_shift_in_place", "softmax_cross_entropy",
               "    shifted = logits - logits.max(axis=1, keepdims=True)\n",
               "    logits -= logits.max(axis=1, keepdims=True)\n    shifted = logits\n",
               "the max shift overwrites the caller's logits"),
        Mutant("numerical_gradient_perturbs_in_place", "numerical_gradient",
               "        plus = {k: v.copy() for k, v in params.items()}\n"
               "        minus = {k: v.copy() for k, v in params.items()}\n"
               "        plus[name][idx] += eps\n"
               "        minus[name][idx] -= eps\n"
               "        loss_plus = softmax_cross_entropy(forward(plus, X)[0], y)[0]\n"
               "        loss_minus = softmax_cross_entropy(forward(minus, X)[0], y)[0]\n",
               "        params[name][idx] += eps\n"
               "        loss_plus = softmax_cross_entropy(forward(params, X)[0], y)[0]\n"
               "        params[name][idx] -= 2 * eps\n"
               "        loss_minus = softmax_cross_entropy(forward(params, X)[0], y)[0]\n"
               "        params[name][idx] += eps\n",
               "perturbs the caller's params and 'restores' them (off by rounding)"),
        Mutant("numerical_gradient_shallow_copies", "numerical_gradient",
               "        plus = {k: v.copy() for k, v in params.items()}\n"
               "        minus = {k: v.copy() for k, v in params.items()}\n",
               "        plus = dict(params)\n        minus = dict(params)\n",
               "dict(params) copies the dict, not the arrays: both moves cancel"),
        Mutant("relu_mask_includes_zero", "backward",
               "(cache[f\"z{i}\"] > 0)", "(cache[f\"z{i}\"] >= 0)",
               "units exactly at 0 pass the gradient ([z >= 0] instead of [z > 0])"),
        Mutant("sgd_step_in_place", "train_mlp",
               "    return {k: params[k] - lr * grads[k] for k in params}",
               "    for k in params:\n        params[k] -= lr * grads[k]\n    return params",
               "sgd_step changes the caller's parameters"),
        Mutant("same_order_every_epoch", "train_mlp",
               "    rng = np.random.default_rng(seed)\n    n = len(X)\n    for _ in range(epochs):\n",
               "    n = len(X)\n    for _ in range(epochs):\n        rng = np.random.default_rng(seed)\n",
               "the generator is re-created each epoch: the same order every epoch"),
        Mutant("last_partial_batch_dropped", "train_mlp",
               "for start in range(0, n, batch_size):", "for start in range(0, n - batch_size + 1, batch_size):",
               "the last, smaller batch of each epoch is skipped"),
        Mutant("shuffled_with_the_global_generator", "train_mlp",
               "order = rng.permutation(n)", "order = np.random.permutation(n)",
               "np.random.permutation: the global state, not the seed"),
        Mutant("never_shuffled", "train_mlp",
               "order = rng.permutation(n)", "order = np.arange(n)",
               "the examples in the same order every epoch"),
        Mutant("init_ignores_the_seed", "train_mlp",
               "params = init_params(sizes, seed)", "params = init_params(sizes)",
               "the initial weights always drawn with seed 0"),
        Mutant("no_relu_in_torch_mlp", "torch_mlp",
               "layers += [nn.Linear(width, hidden), nn.ReLU()]", "layers += [nn.Linear(width, hidden)]",
               "no ReLU between the linear layers: a linear model"),
        Mutant("count_parameters_counts_tensors", "torch_mlp",
               "sum(p.numel() for p in model.parameters())", "len(list(model.parameters()))",
               "count_parameters counts tensors, not numbers"),
        Mutant("epoch_loss_mean_of_batch_means", "train_torch",
               "total += loss.item() * len(batch)", "total += loss.item()",
               "the epoch loss averages batches, not examples (the last batch is smaller)",
               more=(("losses.append(total / len(X))",
                      "losses.append(total / len(range(0, len(X), batch_size)))"),)),
        Mutant("generator_per_epoch", "train_torch",
               "    generator = torch.Generator().manual_seed(seed)\n    losses = []\n"
               "    for _ in range(epochs):\n",
               "    losses = []\n    for _ in range(epochs):\n"
               "        generator = torch.Generator().manual_seed(seed)\n",
               "a new generator each epoch: the same order every epoch"),
        Mutant("torch_last_batch_dropped", "train_torch",
               "for start in range(0, len(X), batch_size):",
               "for start in range(0, len(X) - batch_size + 1, batch_size):",
               "the last, smaller batch of each epoch is skipped"),
        Mutant("torch_unseeded_shuffle", "train_torch",
               "torch.randperm(len(X), generator=generator)", "torch.randperm(len(X))",
               "torch.randperm without the seeded generator"),
        Mutant("adam_with_its_default_lr", "train_torch",
               "torch.optim.Adam(model.parameters(), lr=lr)", "torch.optim.Adam(model.parameters())",
               "the lr argument is ignored (Adam's default 1e-3)"),
        Mutant("plain_sgd_instead_of_adam", "train_torch",
               "torch.optim.Adam(model.parameters(), lr=lr)", "torch.optim.SGD(model.parameters(), lr=lr)",
               "SGD where the question asks for Adam"),
    ],
    "hw3_training": [
        Mutant("always_cpu", "get_device",
               'torch.device("cuda" if torch.cuda.is_available() else "cpu")', 'torch.device("cpu")',
               "get_device ignores the GPU", needs_gpu=True),
        Mutant("validation_inside_training_set", "make_loaders",
               "DataLoader(TensorDataset(X[train_idx], y[train_idx])",
               "DataLoader(TensorDataset(X, y)",
               "the training loader uses every example, validation ones included"),
        Mutant("unseeded_split", "make_loaders",
               "order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))",
               "order = torch.randperm(n)",
               "the split uses the global random state, not the seed"),
        Mutant("training_not_shuffled", "make_loaders",
               "shuffle=True, generator=torch.Generator().manual_seed(seed))",
               "shuffle=False)",
               "the training loader yields the same order every epoch"),
        Mutant("no_zero_grad", "train_one_epoch",
               "        optimizer.zero_grad()\n", "",
               "gradients accumulate across batches: no optimizer.zero_grad()"),
        Mutant("last_batch_loss_returned", "train_one_epoch",
               "    return total / count", "    return loss.item()",
               "returns the last batch's loss instead of the epoch's mean"),
        Mutant("no_train_mode", "train_one_epoch",
               "    model.train()\n", "",
               "the model stays in evaluation mode (dropout off) while training"),
        Mutant("batches_left_on_cpu", "train_one_epoch",
               "        xb, yb = xb.to(device), yb.to(device)\n", "",
               "batches are not moved to the device", needs_gpu=True),
        Mutant("no_autocast", "train_one_epoch",
               'enabled=device.type == "cuda")', "enabled=False)",
               "no mixed precision on the GPU", needs_gpu=True),
        Mutant("no_eval_mode", "evaluate",
               "    model.eval()\n", "",
               "evaluation with dropout on: no model.eval()"),
        Mutant("mean_of_batch_means", "evaluate",
               "total += loss.item() * len(yb)", "total += loss.item()",
               "the loss averaged over batches, not examples (the last batch is smaller)",
               more=(("return total / count, correct / count",
                      "return total / len(loader), correct / count"),)),
        Mutant("best_weights_not_restored", "fit",
               "    model.load_state_dict(best_state)\n", "",
               "returns the last weights, not the best ones"),
        Mutant("best_weights_not_copied", "fit",
               "copy.deepcopy(model.state_dict())", "model.state_dict()",
               "keeps references to the live weights as 'best' (no deep copy)"),
        Mutant("early_stopping_on_training_loss", "fit",
               "        if val_loss < best_loss:\n"
               "            best_loss, best_state, waited = val_loss,",
               '        if history["train_loss"][-1] < best_loss:\n'
               '            best_loss, best_state, waited = history["train_loss"][-1],',
               "early stopping watches the training loss"),
        Mutant("patience_off_by_one", "fit",
               "if waited >= patience:", "if waited > patience:",
               "stops one epoch late"),
        Mutant("model_left_on_cpu", "fit",
               "    model.to(device)\n", "",
               "the model is not moved to the device", needs_gpu=True),
        Mutant("validation_from_the_end", "make_loaders",
               "val_idx, train_idx = order[:n_val], order[n_val:]",
               "val_idx, train_idx = order[-n_val:], order[:-n_val]",
               "the last n_val indices of the permutation for validation, not the first"),
        Mutant("validation_size_truncated", "make_loaders",
               "n_val = int(round(val_fraction * n))", "n_val = int(val_fraction * n)",
               "int() truncates where the question rounds"),
        Mutant("training_shuffled_by_the_global_seed", "make_loaders",
               "shuffle=True, generator=torch.Generator().manual_seed(seed))", "shuffle=True)",
               "the training order comes from the global random state"),
        Mutant("validation_shuffled", "make_loaders",
               "                            shuffle=False)", "                            shuffle=True)",
               "the validation loader shuffles"),
        Mutant("training_drops_last_batch", "make_loaders",
               "shuffle=True, generator=torch.Generator().manual_seed(seed))",
               "shuffle=True, generator=torch.Generator().manual_seed(seed), drop_last=True)",
               "the training loader drops its last, smaller batch"),
        Mutant("epoch_loss_mean_of_batch_means", "train_one_epoch",
               "        total += loss.item() * len(yb)\n        count += len(yb)\n",
               "        total += loss.item()\n        count += 1\n",
               "the epoch loss averages batches, not examples"),
        Mutant("autocast_on_the_cpu", "train_one_epoch",
               "torch.autocast(device_type=device.type, dtype=torch.bfloat16,\n"
               "                            enabled=device.type == \"cuda\")",
               "torch.autocast(device_type=device.type, dtype=torch.bfloat16)",
               "autocast left on for the CPU: the forward in bfloat16"),
        Mutant("evaluation_with_gradients", "evaluate",
               "    with torch.no_grad():\n", "    if True:  # no torch.no_grad()\n",
               "evaluation records the computation graph (no torch.no_grad())"),
        Mutant("evaluate_autocast_on_the_cpu", "evaluate",
               "torch.autocast(device_type=device.type, dtype=torch.bfloat16,\n"
               "                                enabled=device.type == \"cuda\")",
               "torch.autocast(device_type=device.type, dtype=torch.bfloat16)",
               "evaluation in bfloat16 on the CPU"),
        Mutant("accuracy_over_batches", "evaluate",
               "return total / count, correct / count", "return total / count, correct / len(loader)",
               "the accuracy divided by the number of batches"),
        Mutant("accuracy_and_loss_swapped", "evaluate",
               "return total / count, correct / count", "return correct / count, total / count",
               "returns (accuracy, loss) instead of (loss, accuracy)"),
        Mutant("adam_with_its_default_lr", "fit",
               "torch.optim.Adam(model.parameters(), lr=lr)", "torch.optim.Adam(model.parameters())",
               "the lr argument is ignored (Adam's default)"),
        Mutant("device_none_kept", "fit",
               "    device = device if device is not None else get_device()\n", "",
               "fit(device=None) does not choose a device"),
        Mutant("patience_counter_not_reset", "fit",
               "best_loss, best_state, waited = val_loss, copy.deepcopy(model.state_dict()), 0",
               "best_loss, best_state = val_loss, copy.deepcopy(model.state_dict())",
               "epochs without improvement counted in total, not since the last improvement"),
        Mutant("improvement_on_ties", "fit",
               "if val_loss < best_loss:", "if val_loss <= best_loss:",
               "an equal validation loss counts as an improvement"),
        Mutant("optimizer_created_each_epoch", "fit",
               "    optimizer = torch.optim.Adam(model.parameters(), lr=lr)\n", "",
               "a new Adam every epoch: its moments are lost",
               more=(("    for _ in range(epochs):\n",
                      "    for _ in range(epochs):\n"
                      "        optimizer = torch.optim.Adam(model.parameters(), lr=lr)\n"),)),
        Mutant("best_state_shallow_copy", "fit",
               "copy.deepcopy(model.state_dict())", "model.state_dict().copy()",
               "dict.copy() keeps the live tensors: the 'best' weights keep changing"),
        Mutant("validated_on_the_training_loader", "fit",
               "evaluate(model, val_loader, loss_fn, device)", "evaluate(model, train_loader, loss_fn, device)",
               "early stopping watches the training set"),
        Mutant("one_epoch_too_few", "fit",
               "for _ in range(epochs):", "for _ in range(epochs - 1):",
               "at most epochs - 1 epochs"),
    ],
}


class StaleMutant(Exception):
    pass


def mutate(solution, mutant: Mutant, assignment: str):
    """The solution with one substitution; StaleMutant if it does not match exactly once."""
    import copy

    nb = copy.deepcopy(solution)
    cells = [c for c in cells_of(nb) if c.grade_id == mutant.cell]
    if len(cells) != 1:
        raise StaleMutant(f"{assignment}/{mutant.name}: no answer cell with grade_id "
                          f"{mutant.cell!r} in the solution")
    cell = nb.cells[cells[0].index]
    for old, new in ((mutant.old, mutant.new), *mutant.more):
        count = cell.source.count(old)
        if count != 1:
            raise StaleMutant(f"{assignment}/{mutant.name}: the text to replace occurs {count} "
                              f"times in cell {mutant.cell!r} (expected once): {old!r}")
        cell.source = cell.source.replace(old, new)
    nb.metadata["autograder"] = {**nb.metadata.get("autograder", {}), "mutant": {
        "name": mutant.name, "mistake": mutant.mistake, "cell": mutant.cell,
        "needs_gpu": mutant.needs_gpu}}
    return nb


def planned(course, assignments) -> dict[Path, bytes]:
    files = {}
    for assignment in assignments:
        solution = solution_notebook(course, assignment)
        for mutant in MUTANTS[assignment]:
            files[HERE / assignment / f"{mutant.name}.ipynb"] = notebook_bytes(
                mutate(solution, mutant, assignment))
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", help="default: every homework with mutants")
    parser.add_argument("--check", action="store_true", help="only report stale or missing files")
    args = parser.parse_args(argv)
    course = load_course(ROOT / "course.toml")
    assignments = args.assignments or list(MUTANTS)
    unknown = [a for a in assignments if a not in MUTANTS]
    if unknown:
        for name in unknown:
            print(f"make_mutants: no mutants are listed for {name!r} in {Path(__file__).name}; "
                  f"add them to MUTANTS: \"{name}\": [Mutant(\"<mistake_name>\", \"<grade_id of "
                  "the answer cell>\", \"<text of the solution, once in that cell>\", \"<the "
                  "text with the mistake>\", \"<one line saying what is wrong>\"), ...]",
                  file=sys.stderr)
        return 2
    try:
        files = planned(course, assignments)
    except (StaleMutant, AutograderError) as exc:
        print(f"make_mutants: {exc}", file=sys.stderr)
        return 1
    return sync(files, HERE, assignments, root=ROOT, check=args.check)


if __name__ == "__main__":
    sys.exit(main())
