"""Key points for the ``[interview]`` question of each kata (its kata.toml), by kata id.

A kata listed here is scored like the questions of ``interview``; one that is not is graded by
the learner (y/n).
"""

from __future__ import annotations

from .interview import KeyPoint, point

__all__ = ["KATA_POINTS"]

KATA_POINTS: dict[str, tuple[KeyPoint, ...]] = {
    "day11/01_gradients_pile_up": (
        point("backward() adds to .grad, it does not overwrite it", "accumulat*|add*|sum*|pile*"),
        point(
            "forgetting it makes each step use the sum of past gradients: steps grow, diverge",
            "grow*|larger|bigger|diverg*|oscillat*|explod*|unstable|sum of",
        ),
        point("call zero_grad() once per step, before backward()", "before + backward|step"),
    ),
    "day11/02_grads_cleared_before_step": (
        point("zero_grad(), then backward(), then step()", "zero grad + backward + step"),
        point("backward() fills .grad; step() uses it", "fill*|comput*|writ*|us* + grad*"),
        point(
            "clearing between them throws the gradients away: nothing trains, no error",
            "nothing train*|no update*|not train|skip*|throw*|no error|silent*|wasted|lost",
        ),
    ),
    "day11/03_scheduler_before_optimizer": (
        point("after optimizer.step()", "after + optimizer|step"),
        point("once per epoch for an epoch scheduler", "epoch"),
        point(
            "called first it skips its first value: each epoch uses the next epoch's rate",
            "skip*|next|wrong + rate|lr|value|epoch",
            "warn*",
        ),
    ),
    "day11/04_scheduler_per_batch": (
        point("StepLR counts step() calls, not epochs", "count*|calls|every 30"),
        point("stepped per batch, it decays 30 times too often", "batch*|iteration*"),
        point(
            "epoch schedulers once per epoch; OneCycleLR and the like per batch",
            "once per epoch|per epoch|each epoch|every epoch",
            "onecycle*|one cycle",
        ),
    ),
    "day11/05_optimizer_over_a_copy": (
        point(
            "the optimizer holds references to the original parameter tensors",
            "reference*|original|other|old|different + param*|tensor*|model",
        ),
        point(
            "so step() updates parameters without gradients: nothing changes, no error",
            "nothing chang*|no update*|not updat*|flat|no weight chang*|no error|silent*",
        ),
        point(
            "build it after the model is final; check a parameter changed",
            "after|final|build + optimizer",
            "check*|compar*|verify + param*|weight*|chang*",
        ),
    ),
    "day11/06_loss_goes_nan": (
        point("first the learning rate: too large, lower it", "learning rate|lr|rate"),
        point(
            "then the loss: log(0), division by zero, exp overflow; and the inputs",
            "log|exp*|divi*|overflow*|input*|data",
        ),
        point(
            "find the first bad step: isfinite, detect_anomaly",
            "isfinite|isnan|detect anomaly|anomaly|check* + nan|finite|each step",
        ),
    ),
    "day11/07_adam_weight_decay": (
        point("Adam's weight_decay is L2 added to the gradient", "l2|gradient|grad"),
        point(
            "scaled by the adaptive denominator: large-gradient weights barely decay",
            "adaptive|denominator|scal*|divid*|coupl*|barely",
        ),
        point("AdamW decouples it: w -= lr * wd * w", "decoupl*|separate*|direct*|adamw"),
    ),
    "day11/08_batches_on_cpu": (
        point("all tensors of an op must be on one device", "same device|one device|device*"),
        point(
            "the DataLoader yields CPU tensors: validation loop forgot .to(device)",
            "validat*|eval*|dataloader|loader|cpu",
        ),
        point(
            "move each batch with x = x.to(device), device read from the model",
            "to device|to cuda|move*|parameters device",
        ),
    ),
    "day11/09_loss_broadcast": (
        point("prediction (N, 1) and target (N,) differ in shape", "shape*|n 1|dimension*"),
        point(
            "they broadcast to (N, N): the model learns the mean",
            "broadcast*|n n|every pair|mean|average",
        ),
        point(
            "make the shapes match (squeeze / unsqueeze) and assert it",
            "squeeze*|unsqueeze*|match|assert|view|reshape|flatten",
        ),
    ),
    "day11/10_training_under_no_grad": (
        point("no", "no|wrong|not"),
        point(
            "the graph was cut: no_grad, inference_mode, detach, item, numpy",
            "no grad|inference mode|detach*|item|numpy|graph",
        ),
        point(
            "requires_grad on the loss only silences it: no parameter gets a gradient",
            "silenc*|hides|no param*|nothing|does nothing|no gradient*|not reach|stops",
        ),
    ),
    "day11/11_tensor_created_in_forward": (
        point(
            "to() moves parameters and buffers, not tensors created in forward()",
            "parameters|buffer*|regist*",
        ),
        point(
            "a new tensor goes to the default device, the CPU",
            "default|cpu|created|new tensor|torch zeros|torch randn",
        ),
        point(
            "create it from the input (zeros_like, device=x.device) or register a buffer",
            "like|x device|device x|new zeros|register buffer|register*",
        ),
    ),
    "day11/12_metrics_to_numpy": (
        point("NumPy needs host memory; a GPU tensor is on the device", "host|cpu|memory|device"),
        point("copy with .cpu() (and .detach())", "cpu"),
        point(
            "keep metrics on the device and copy once; .item() for a number",
            "item|once|per epoch|sync*|on the device",
        ),
    ),
    "day11/13_model_left_on_cpu": (
        point("not for plain model.to(device)", "no|not|doesnt|does not"),
        point("to() moves parameters in place: the optimizer's tensors move", "in place|same|data"),
        point(
            "optimizer state (moments, a checkpoint) is not moved: load it after moving",
            "state|moment*|checkpoint|load*",
        ),
    ),
    "day12/01_dropout_in_validation": (
        point("the model is still in training mode: dropout is on", "train* mode|dropout"),
        point("the score is noisy / random and too low", "nois*|random*|vary|varies|low|chang*"),
        point("call model.eval() before evaluating", "model eval|eval"),
    ),
    "day12/02_train_mode_never_restored": (
        point(
            "they set the training flag of every submodule",
            "flag|training attribute|submodule*|self training",
        ),
        point(
            "dropout and BatchNorm change behaviour (masks / batch vs running statistics)",
            "dropout + batchnorm|batch norm|bn",
        ),
        point(
            "they do not touch gradients, parameters, shapes or devices",
            "not + grad*|gradient*|no grad|param*|shape*|device*",
        ),
    ),
    "day12/03_batchnorm_learns_validation_data": (
        point("yes", "yes|can"),
        point(
            "BatchNorm in training mode updates its running statistics at every forward",
            "running|statistic*|stats|buffer*",
        ),
        point("no_grad does not stop it: use model.eval()", "model eval|eval"),
    ),
    "day12/04_functional_dropout_ignores_eval": (
        point("no", "no|not"),
        point(
            "F.dropout has training=True by default and ignores model.eval()",
            "ignor*|training true|default|no module",
        ),
        point(
            "pass training=self.training or use nn.Dropout",
            "self training|nn dropout|module",
        ),
    ),
    "day12/05_best_weights_alias": (
        point(
            "copy them: deepcopy the state dict or clone each tensor",
            "deepcopy|deep copy|clone|copy",
        ),
        point(
            "state_dict() shares storage with the live parameters",
            "share*|reference*|alias*|same storage|live|view*",
        ),
        point("restore with load_state_dict", "load state dict|restor*|load"),
    ),
    "day12/06_early_stopping_on_training_loss": (
        point("the validation loss or metric", "validation|val|held out"),
        point(
            "the training loss keeps falling: it never shows overfitting",
            "overfit*|keeps + decreas*|falling|going down|dropping",
            "never + stop*|rise*|increase*",
        ),
        point("patience, and restore the best weights", "patience|best + weight*|epoch|model"),
    ),
    "day12/07_channels_last_images": (
        point("the batch is channels-last (N, H, W, C)", "channels last|n h w c|last"),
        point("Conv2d expects (N, C, H, W)", "n c h w|channels first|dimension 1|first"),
        point(
            "permute, not reshape / view",
            "permute*|transpose|totensor",
        ),
    ),
    "day12/08_batch_of_one": (
        point(
            "the last batch has one sample (the data set size leaves a remainder of 1)",
            "last batch|remainder|one sample|single sample|batch of one|size 1",
        ),
        point(
            "BatchNorm in training mode cannot compute a variance from one value",
            "variance|statistic*|one value|single value",
        ),
        point(
            "drop_last=True, or a batch size that divides the data", "drop last|divid*|batch size"
        ),
    ),
    "day12/09_softmax_before_cross_entropy": (
        point("no", "no|not|shouldnt|should not"),
        point(
            "CrossEntropyLoss expects logits and applies log_softmax itself",
            "logit*|log softmax|internal*|itself|already",
        ),
        point(
            "softmax twice caps the loss and shrinks the gradients",
            "twice|double|shrink*|small* + grad*|vanish*|cap*|flat*|slow*",
        ),
    ),
    "day12/10_batchnorm1d_in_a_cnn": (
        point(
            "per channel, over the batch and all H x W positions",
            "per channel|each channel|channel*",
            "batch + spatial|position*|h w|h x w|height",
        ),
        point("num_features = C, the previous conv's out_channels", "out channels|c|channels"),
        point(
            "BatchNorm1d is for (N, C) or (N, C, L) and rejects 4-D input",
            "batchnorm1d|1d|n c l|4 d|4d",
        ),
    ),
    "day12/11_evaluation_builds_graphs": (
        point("no", "no|not"),
        point("eval() only switches dropout / BatchNorm", "dropout|batchnorm|batch norm|layers"),
        point(
            "no_grad stops graph recording: saves memory and time",
            "graph*|memory|autograd|activation*|faster|time",
        ),
    ),
    "day12/12_dropout_without_rescaling": (
        point(
            "zeroing with probability p lowers the expected value to (1 - p)",
            "expect*|mean|average|1 p",
        ),
        point(
            "scaling by 1/(1-p) keeps the expectation, so eval is the identity",
            "identity|eval* + nothing|same|unchanged|no scal*",
            "inverted",
        ),
        point(
            "without it, activations at evaluation would be larger than in training",
            "larger|bigger|scale|mismatch|differ*",
        ),
    ),
}
