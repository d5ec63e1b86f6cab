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

from autograder.config import load_course  # noqa: E402
from autograder.notebook import cells_of  # noqa: E402
from autograder.notebook import notebook_bytes  # noqa: E402
from autograder.release import apply_steps, read_source, solution_steps  # noqa: E402


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
    ],
}


class StaleMutant(Exception):
    pass


def solution_notebook(course, assignment: str):
    """The solutions notebook as `autograder release` writes it (hidden tests removed)."""
    spec = course.assignment(assignment)
    return apply_steps(read_source(spec), solution_steps(spec))


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
    try:
        files = planned(course, assignments)
    except StaleMutant as exc:
        print(f"make_mutants: {exc}", file=sys.stderr)
        return 1
    stale = [p for p, data in files.items() if not p.is_file() or p.read_bytes() != data]
    for assignment in assignments:  # mutants no longer listed
        known = {p.name for p in files if p.parent.name == assignment}
        stale += [p for p in sorted((HERE / assignment).glob("*.ipynb")) if p.name not in known]
    if args.check:
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)}", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        if path in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(files[path])
            print(f"wrote {path.relative_to(ROOT)}")
        else:
            path.unlink()
            print(f"removed {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
