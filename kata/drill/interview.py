"""Interview questions with a model answer and the key points a good answer covers.

The course outline's checkpoints for each day, and the staples a candidate meets in a deep
learning interview. Each key point lists the phrasings that count as covering it, in the
pattern language of ``kata/drill/answers.py`` (terms joined by ``+`` all occur, ``|`` separates
alternatives, ``word*`` is a prefix): a point is covered when any one of its phrasings
matches the answer, so "the moving averages start at zero" and "m0 = 0 biases the early
estimates" both cover Adam's zero start. An answer is right when it covers at least half
of the question's key points (rounded up).
"""

from __future__ import annotations

from dataclasses import dataclass

from .answers import matches, words

__all__ = ["QUESTIONS", "KeyPoint", "Question", "covered", "point"]


@dataclass(frozen=True)
class KeyPoint:
    label: str  # what the point says, shown with ✔ or ✘
    phrasings: tuple[str, ...]

    def covered_by(self, said: tuple[str, ...]) -> bool:
        return any(matches(p, said) for p in self.phrasings)


@dataclass(frozen=True)
class Question:
    id: str
    day: int  # the course day that teaches it
    topic: str  # for per-topic accuracy and --weakest
    text: str
    answer: str  # the model answer
    points: tuple[KeyPoint, ...]

    @property
    def needed(self) -> int:
        """Key points a right answer covers: half of them, rounded up."""
        return (len(self.points) + 1) // 2


def covered(question: Question, answer: str) -> list[bool]:
    """For each key point of ``question``, whether ``answer`` covers it."""
    said = words(answer)
    return [point.covered_by(said) for point in question.points]


def _q(id: str, day: int, topic: str, text: str, answer: str, *points: KeyPoint) -> Question:
    assert 3 <= len(points) <= 6, id
    return Question(id, day, topic, text, " ".join(answer.split()), points)


def point(label: str, *phrasings: str) -> KeyPoint:
    """A key point and the phrasings that cover it."""
    return KeyPoint(label, phrasings)


_SHAPE_DEVICE = point(
    "parameters, gradients and optimizer state share the parameters' shape and device",
    "shape* + device*",
    "same + shape*|device*",
    "state + per param*|each param*|every param*",
)
_COMMON_BUG = (
    point(
        "gradients: forgetting zero_grad() accumulates them across batches",
        "zero grad",
        "grad* + accumulat*|pile*|add up|sum*",
        "grad* + not|never + clear*|zero*|reset*",
    ),
    point(
        "shapes: batch or channel dimensions that do not match (or silently broadcast)",
        "shape*",
        "dimension*|dims|channel*|broadcast*",
    ),
    point(
        "devices: the model on the GPU and a batch left on the CPU (or the reverse)",
        "device*",
        "cpu + gpu|cuda|accelerator",
        "to device|to cuda",
    ),
    point(
        "how to find it: read the error, check .shape/.device, run a small batch",
        "print*|check*|assert*|inspect*|debug* + shape*|device*|grad*",
        "small|single|one + batch",
        "error message|traceback|read + error",
        "overfit* + batch",
    ),
)

QUESTIONS: tuple[Question, ...] = (
    # -- Day 11: optimization -----------------------------------------------------------------
    _q(
        "optimizers-in-pytorch",
        11,
        "optimizers",
        "Explain optimizers in PyTorch: a one-sentence definition, then a note on shapes and "
        "devices.",
        """An optimizer updates the parameters from their gradients: SGD moves each one along
        the negative gradient (optionally with momentum), Adam keeps per-parameter running
        averages of the gradient and its square for an adaptive step. You build it over
        model.parameters() and call zero_grad(), backward(), step() each batch. Its state
        (momentum buffers, Adam's moments) has each parameter's shape and lives on its device,
        so move the model to the device before creating the optimizer.""",
        point(
            "updates the parameters from their gradients",
            "updat*|adjust*|chang* + param*|weight*",
            "param*|weight* + gradient*|grad",
            "minimi* + loss",
        ),
        point(
            "SGD: a step along the negative gradient; Adam: adaptive per-parameter steps",
            "sgd|adam",
            "negative|opposite + gradient",
            "adaptive|per param*",
        ),
        point(
            "the loop: zero_grad(), backward(), step()",
            "zero grad",
            "backward + step",
            "step",
        ),
        _SHAPE_DEVICE,
        point(
            "build it after moving the model to the device",
            "to device|to cuda|move* + before|first|then|after",
            "model parameters",
        ),
    ),
    _q(
        "common-bug-optimizers",
        11,
        "gradients",
        "A common bug in an optimization loop? Name the usual culprits and how you find them.",
        """Three come up again and again. Gradients: forgetting optimizer.zero_grad(), so
        backward() adds each batch's gradients to the last ones and the steps grow. Shapes:
        batch or channel dimensions that do not match, or an (N, 1) prediction against an
        (N,) target that silently broadcasts. Devices: the model on the GPU while a batch
        stays on the CPU. Find them by reading the error, printing .shape and .device at
        the failing line, and overfitting one small batch first.""",
        *_COMMON_BUG,
    ),
    _q(
        "adam-bias-correction",
        11,
        "optimizers",
        "What is Adam's bias correction, and why is it needed?",
        """Adam's first and second moment estimates are exponential moving averages that start
        at zero, so in the first steps they are biased toward zero (too small). Adam divides
        them by (1 - beta1^t) and (1 - beta2^t); the correction matters in the early steps
        and fades as t grows, since beta^t goes to zero. Without it the very first updates
        would be badly scaled.""",
        point(
            "the moment estimates start at zero",
            "start* + zero|0",
            "initiali* + zero|0",
            "m0|v0",
        ),
        point(
            "so the early estimates are biased toward zero (too small)",
            "bias* + zero|small|low|toward*|towards",
            "underestimat*|too small",
        ),
        point(
            "divide by 1 - beta^t",
            "1 beta*|one minus beta*",
            "divid* + beta*",
            "beta* + power|t",
        ),
        point(
            "it matters in the first steps and fades as t grows",
            "early|first|initial|start* + step*|iteration*|update*",
            "fade*|vanish*|disappear*|negligible|goes away|approach*",
        ),
    ),
    _q(
        "momentum",
        11,
        "optimizers",
        "What does momentum do in SGD?",
        """Momentum keeps a running (exponentially decaying) average of past gradients, a
        velocity, and steps along it instead of the raw gradient: v = mu * v + g, then
        p -= lr * v with mu around 0.9. Directions that agree from batch to batch build up
        speed, while oscillating ones (across a narrow ravine) cancel out, so it converges
        faster and is less noisy; Nesterov evaluates the gradient at the look-ahead point.""",
        point(
            "a running average (velocity) of past gradients",
            "velocity",
            "average|accumulat*|sum* + past|previous|gradient*",
            "exponential*",
        ),
        point(
            "the step follows that velocity, with a factor like 0.9",
            "0 9|beta|mu|coefficient|factor",
        ),
        point(
            "it speeds up along consistent directions",
            "speed*|accelerat*|faster|build* up|consistent",
        ),
        point(
            "it damps oscillations and noise",
            "oscillat*|zig*|noise|noisy|damp*|smooth*|ravine*",
        ),
    ),
    _q(
        "sgd-vs-adam",
        11,
        "optimizers",
        "SGD or Adam: what are the trade-offs?",
        """Adam adapts a step size per parameter from running averages of the gradient and its
        square, so it converges fast and is forgiving about the learning rate: a good default
        for quick experiments (lr=1e-3), transformers and sparse gradients. It keeps two extra
        buffers per parameter (more memory). SGD with momentum needs more tuning of the
        learning rate and a schedule, but often generalizes better, which is why it is still
        the baseline for vision (ResNets).""",
        point(
            "Adam adapts the step per parameter",
            "adapt*|per param*|each param*",
        ),
        point(
            "Adam converges fast and needs less learning-rate tuning",
            "fast*|quick*|converg*",
            "less|little|robust|forgiving + tun*|lr|learning rate",
            "default",
        ),
        point(
            "SGD with momentum often generalizes better",
            "generali*|test accuracy|better final",
        ),
        point(
            "SGD needs more tuning and a schedule",
            "sgd + tun*|schedul*|learning rate|lr",
        ),
        point(
            "Adam's memory cost: two extra buffers per parameter",
            "memory|buffer*|state",
        ),
    ),
    _q(
        "warmup",
        11,
        "schedulers",
        "What is learning-rate warmup, and why use it?",
        """Warmup starts training with a small learning rate and raises it (usually linearly)
        to the target over the first steps or epochs. Early on the weights are random,
        gradients are large and Adam's variance estimates are noisy, so a full learning rate
        can diverge; warmup keeps those first updates small. It is then followed by a decay
        (cosine, linear); OneCycleLR and LinearLR in PyTorch do it, stepped every batch.""",
        point(
            "start with a small learning rate and increase it",
            "small|low|tiny|zero + lr|learning rate|start*",
            "increas*|ramp*|rais*|grow*|linear*",
        ),
        point(
            "over the first steps or epochs",
            "first|early|initial|beginning + step*|epoch*|iteration*|training",
        ),
        point(
            "early updates are unstable: large gradients, noisy statistics, divergence",
            "unstabl*|instab*|diverg*|explod*|large grad*|noisy|stabili*",
        ),
        point(
            "followed by a decay; OneCycleLR / LinearLR stepped per batch",
            "decay*|cosine|onecycle*|one cycle|linearlr|lambdalr",
            "then + decreas*",
        ),
    ),
    _q(
        "adamw-vs-l2",
        11,
        "optimizers",
        "AdamW versus Adam with an L2 penalty (weight_decay): what is the difference?",
        """Adam's weight_decay adds lambda * w to the gradient (an L2 penalty), and that term is
        then divided by Adam's adaptive denominator, so weights with large gradient history
        are barely decayed: the decay is coupled to the gradient scaling. AdamW decouples it:
        it shrinks the weights directly, w -= lr * lambda * w, apart from the adaptive step,
        so every weight decays at the same rate. For SGD the two are equivalent; for Adam
        they are not, and AdamW generalizes better.""",
        point(
            "Adam's weight_decay adds an L2 term to the gradient",
            "l2 + grad*|loss|penalt*",
            "add* + gradient|grad",
        ),
        point(
            "which Adam's adaptive scaling then rescales (coupled)",
            "coupl*",
            "adaptive|denominator|scal*|divid*|second moment|variance",
        ),
        point(
            "AdamW decouples the decay and shrinks the weights directly",
            "decoupl*",
            "direct*|separate*|apart + weight*|decay*|shrink*|param*",
        ),
        point(
            "equivalent for SGD, not for Adam",
            "sgd + same|equivalent|identical",
        ),
    ),
    _q(
        "exploding-gradients",
        11,
        "gradients",
        "How do you recognise exploding gradients, and how does clipping help?",
        """The loss jumps or becomes NaN/inf, and the gradient norm grows by orders of
        magnitude (deep or recurrent networks, a learning rate too high). Clipping rescales
        the gradients before optimizer.step(): torch.nn.utils.clip_grad_norm_(
        model.parameters(), max_norm=1.0) scales them so their total norm is at most
        max_norm, keeping the direction; clip_grad_value_ clamps each element. It goes after
        backward() and before step(); with AMP, unscale the gradients first.""",
        point(
            "symptoms: loss spikes or becomes NaN/inf, the gradient norm blows up",
            "nan|inf|infinite|spike*|jump*",
            "grad* norm|norm* + grow*|larg*|huge|explod*",
        ),
        point(
            "clipping rescales the gradients to a maximum norm",
            "clip* + norm|threshold|max*|rescal*|scal*",
            "clip grad norm",
        ),
        point(
            "it keeps the direction (norm clipping) or clamps values",
            "direction",
            "clamp*|clip grad value|value",
        ),
        point(
            "after backward() and before optimizer.step()",
            "after + backward",
            "before + step",
        ),
        point(
            "the causes: learning rate too high, depth / recurrence",
            "lr|learning rate + high|large|big|lower|reduce*",
            "deep|depth|recurren*|rnn|lstm",
        ),
    ),
    # -- Day 12: regularization ----------------------------------------------------------------
    _q(
        "regularization-in-pytorch",
        12,
        "regularization",
        "Explain regularization in PyTorch: a one-sentence definition, then a note on shapes "
        "and devices.",
        """Regularization is anything that reduces overfitting, so the model does well on data
        it has not seen: weight decay (the optimizer's weight_decay, AdamW), nn.Dropout,
        BatchNorm, data augmentation and early stopping on the validation loss. Dropout and
        BatchNorm behave differently in model.train() and model.eval(), so switch modes
        around evaluation. Dropout keeps the input's shape; BatchNorm2d needs (N, C, H, W)
        with C its num_features, and its running statistics are buffers that move with
        model.to(device).""",
        point(
            "it reduces overfitting / improves generalization",
            "overfit*",
            "generali*|unseen|validation",
        ),
        point(
            "the tools: weight decay, dropout, BatchNorm, early stopping, augmentation",
            "dropout|weight decay|l2|batchnorm|batch norm|early stop*|augment*",
        ),
        point(
            "train() and eval() switch dropout and BatchNorm",
            "train + eval",
            "eval mode|training mode",
        ),
        point(
            "shapes: dropout keeps the shape, BatchNorm2d wants (N, C, H, W) with C features",
            "shape*",
            "channel*|num features|n c h w",
        ),
        point(
            "devices: running statistics are buffers that move with model.to(device)",
            "device*",
            "buffer*|to device|cuda|gpu",
        ),
    ),
    _q(
        "common-bug-regularization",
        12,
        "modes",
        "A common bug in a training loop with regularization? Name the usual culprits and how "
        "you find them.",
        """Besides the outline's three (gradients not cleared, shapes, devices), regularized
        models add a fourth: the mode. Forgetting model.eval() leaves dropout on and lets
        BatchNorm learn the validation batches; forgetting model.train() afterwards trains
        without dropout and with frozen statistics. Check model.training at the loop's start
        and during evaluation, and compare validation results with a second run.""",
        *_COMMON_BUG[:3],
        point(
            "modes: forgetting model.eval() for validation or model.train() afterwards",
            "model eval|eval mode|model train|train mode",
            "eval + train",
        ),
    ),
    _q(
        "dropout-scaling",
        12,
        "regularization",
        "Why does dropout scale the kept activations by 1/(1-p), and what happens in eval mode?",
        """During training nn.Dropout zeroes each activation with probability p and multiplies
        the kept ones by 1/(1-p) (inverted dropout), so the expected value of every
        activation is the same as without dropout. In eval mode dropout does nothing, so the
        next layer sees activations of the same scale at test time and no rescaling is needed
        then. Without the scaling the eval activations would be 1/(1-p) times too large.""",
        point(
            "each activation is zeroed with probability p in training",
            "zero*|drop*|mask* + probabilit*|p|random*",
        ),
        point(
            "the kept ones are scaled by 1/(1-p) (inverted dropout)",
            "1 1 p|1 p|scal*|inverted|divid*",
        ),
        point(
            "so the expected activation is unchanged",
            "expect*|mean|average|same scale|magnitude",
        ),
        point(
            "in eval mode dropout is the identity: no masking, no scaling",
            "eval* + nothing|identity|off|disabled|no|does not|inactive|turned off",
        ),
    ),
    _q(
        "batchnorm-train-vs-eval",
        12,
        "normalization",
        "How does BatchNorm behave in train() versus eval() mode, and what are its running "
        "statistics?",
        """In training mode BatchNorm normalizes each channel with the current batch's mean and
        variance and updates running estimates of both (an exponential moving average with
        momentum 0.1). In eval mode it normalizes with those running statistics instead, so
        a prediction does not depend on the other samples in the batch (a batch of one
        works). Forgetting eval() makes validation use batch statistics and overwrite the
        running ones with validation data; tiny batches make the statistics noisy.""",
        point(
            "in training it uses the batch's mean and variance",
            "batch + mean|variance|statistic*|stats",
        ),
        point(
            "and updates running estimates (a moving average, momentum)",
            "running + mean|variance|statistic*|stat*|estimat*|average",
            "moving average|momentum|ema",
        ),
        point(
            "in eval mode it uses the running statistics",
            "eval* + running|stored|saved|fixed|learned",
        ),
        point(
            "so eval predictions do not depend on the batch (a batch of one works)",
            "independent|not depend*|depend* + batch",
            "one sample|batch of one|single sample|batch size 1|deterministic",
        ),
        point(
            "forgetting eval() leaks validation data into the statistics",
            "leak*|overwrit*|validation + updat*|statistic*|running",
        ),
    ),
    _q(
        "batchnorm-vs-layernorm",
        12,
        "normalization",
        "BatchNorm or LayerNorm: how do they differ, and when do you use each?",
        """BatchNorm normalizes each feature/channel over the batch (and spatial positions), so
        it depends on the batch size and keeps running statistics for eval mode; it is the
        default in CNNs. LayerNorm normalizes each sample over its own features, so it does
        not depend on the batch, behaves the same in train and eval, and works with batch
        size 1 and variable-length sequences: the default in transformers and RNNs.""",
        point(
            "BatchNorm normalizes over the batch (per channel)",
            "batchnorm|batch norm|bn + across|over|per + batch|channel*",
        ),
        point(
            "LayerNorm normalizes each sample over its features",
            "layernorm|layer norm|ln + sample|feature*|example|token|each",
            "per sample|each sample|per example|per token",
        ),
        point(
            "BatchNorm depends on the batch size and keeps running statistics",
            "batch size|small batch*",
            "running + stat*|mean",
        ),
        point(
            "LayerNorm acts the same in train and eval",
            "same + train*|eval*",
            "no running|independent of + batch",
        ),
        point(
            "CNNs use BatchNorm; transformers and RNNs use LayerNorm",
            "cnn*|convolution*|vision|image*",
            "transformer*|rnn*|sequence*|nlp|language",
        ),
    ),
    _q(
        "early-stopping",
        12,
        "checkpoints",
        "How does early stopping work, and why restore the best weights at the end?",
        """Watch the validation loss (never the training loss, which keeps falling) after each
        epoch; when it has not improved for `patience` epochs, stop. By then the model has
        trained past its best point, so keep a copy of the best weights when the validation
        loss improves (copy.deepcopy(model.state_dict()), not a reference, which would
        follow the live parameters) and load it back at the end.""",
        point(
            "monitor the validation loss, not the training loss",
            "validation|val|held out + loss|metric|accuracy",
        ),
        point(
            "stop after `patience` epochs without improvement",
            "patience",
            "no|not|stop* + improv*",
        ),
        point(
            "the last epoch is past the best one, so restore the best weights",
            "restor*|load* + best",
            "best + weight*|model|checkpoint|state",
        ),
        point(
            "keep a real copy: deepcopy / clone the state dict, not a reference",
            "deepcopy|deep copy|clone|copy",
            "reference|alias*",
        ),
    ),
)
