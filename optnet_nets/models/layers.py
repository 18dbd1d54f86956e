"""The transforms T of Sec. 6 and the shortcuts between stages.

* :class:`ResidualBranch`: T of Sec. 6.1 (and of ResNet), conv-BN-Phi-conv-BN.
* :class:`DenseLayer`: T of (19)/(21), BN-Phi-conv over the inputs (with an optional
  DenseNet-BC bottleneck); ``T(z, alpha)`` is the sum_j alpha_j T(z_j) of (21), one T_j per
  input, computed as ONE convolution, since BN and Phi act per channel:
  sum_j alpha_j conv_j(Phi(BN_j(z_j))) = conv(concat_j alpha_j Phi(BN_j(z_j))), and the
  alpha_j scale that convolution's kernel (input channels of z_j), not the activations.
* :class:`OptionAShortcut` (He et al.'s option A: subsample, zero-pad channels) and
  :class:`Projection` (option B: 1x1 convolution and BN) map a stage's input states to the new
  feature-map size.
* :func:`cifar_stem` and :func:`imagenet_stem`: the convolutional stems before the first stage.

Phi is the paper's ReLU unless an ``activation`` factory
(:func:`optnet_nets.models.activation.make_activation`) says otherwise. ``dropout`` (DenseNet and
AGD-Net only) follows every convolution of a dense layer and of a transition, as in Huang et
al.'s recipe for un-augmented data (the stem's convolution, the first of the network, has none).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from optnet_nets.models.activation import ActivationFactory, make_activation

__all__ = [
    "DenseLayer",
    "OptionAShortcut",
    "Projection",
    "ResidualBranch",
    "Transition",
    "cifar_stem",
    "imagenet_stem",
    "init_weights",
]


def _default() -> ActivationFactory:
    """The paper's Phi (:data:`optnet_nets.models.activation.DEFAULT_ACTIVATION`, ReLU)."""
    return make_activation()


def _dropout(p: float) -> nn.Module | None:
    """``nn.Dropout(p)``, or None for p = 0 (no module, so the model is unchanged)."""
    return nn.Dropout(p) if p > 0 else None


class ResidualBranch(nn.Module):
    """T(x) = BN(conv(Phi(BN(conv(x))))), Sec. 6.1; the first convolution may have stride 2."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        activation: ActivationFactory | None = None,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = (activation or _default())(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))


class OptionAShortcut(nn.Module):
    """He et al.'s option A: keep every second pixel, zero-pad the new channels (no weights)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 2) -> None:
        super().__init__()
        self.stride = stride
        self.pad = out_channels - in_channels
        if self.pad < 0:
            raise ValueError("option-A shortcuts only widen")

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        before = self.pad // 2
        return F.pad(x, (0, 0, 0, 0, before, self.pad - before))

    def extra_repr(self) -> str:
        return f"stride={self.stride}, zero_channels={self.pad}"


class Projection(nn.Sequential):
    """He et al.'s option B shortcut: 1x1 convolution with stride, then BN.

    :meth:`map_states` maps several states (x_k and x_{k-1} of an HB-Net stage) as ONE affine
    map: one convolution and one BN pass over the states stacked along the batch, so BN's batch
    statistics are those of all of them and its running statistics are updated once per
    forward (in eval mode BN is a fixed affine map anyway, applied to each state alike).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
            nn.BatchNorm2d(out_channels),
        )

    def map_states(self, states: Sequence[Tensor]) -> list[Tensor]:
        """The shortcut of each state, with one BN pass (one running-statistics update)."""
        if len(states) == 1:
            return [self(states[0])]
        return list(self(torch.cat(list(states), 0)).chunk(len(states), 0))


class DenseLayer(nn.Module):
    """T of DenseNet (19) and AGD-Net (21): ``T(inputs, weights) = sum_j w_j T_j(z_j)``.

    ``input_channels`` lists the channel count of each z_j. Without ``bottleneck`` T is
    BN-Phi-conv3x3; with it (DenseNet-BC) BN-Phi-conv1x1-BN-Phi-conv3x3, and the weights
    act on the contributions of the z_j to the 1x1 convolution. The weights scale the input
    channels of the (first) convolution's kernel, so the alpha-sum costs no pass over the
    activations; with all weights 1 this is exactly DenseNet's layer on the concatenation.

    ``memory_efficient`` recomputes the concatenation, BN, Phi and first convolution in
    backward (``torch.utils.checkpoint``) instead of storing them; BN's running statistics are
    still updated once per forward.

    ``skips`` (pairs of input position and coefficient b) adds sum b z_j, the beta-term of
    (21), read from the same concatenation: one batched product over a view instead of a copy.

    ``dropout`` p > 0 drops after each convolution (after the folded alpha-sum; the beta-term
    is added after that), as DenseNet's recipe for un-augmented data does.
    """

    input_index: Tensor  # input position of each concatenated channel (a buffer)

    def __init__(
        self,
        input_channels: Sequence[int],
        growth_rate: int,
        bottleneck: int | None = None,
        memory_efficient: bool = False,
        activation: ActivationFactory | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        phi = activation or _default()
        channels = sum(input_channels)
        self.input_channels = tuple(input_channels)
        self.offsets = [sum(input_channels[:j]) for j in range(len(input_channels) + 1)]
        self.memory_efficient = memory_efficient
        self.norm1 = nn.BatchNorm2d(channels)
        self.relu1 = phi(inplace=True)
        self.drop1 = _dropout(dropout)
        first_out = growth_rate if bottleneck is None else bottleneck
        kernel = 3 if bottleneck is None else 1
        self.conv1 = nn.Conv2d(channels, first_out, kernel, 1, kernel // 2, bias=False)
        if bottleneck is not None:
            self.norm2 = nn.BatchNorm2d(bottleneck)
            self.relu2 = phi(inplace=True)
            self.conv2 = nn.Conv2d(bottleneck, growth_rate, 3, 1, 1, bias=False)
            self.drop2 = _dropout(dropout)
        self.bottleneck = bottleneck
        index = [j for j, c in enumerate(input_channels) for _ in range(c)]
        self.register_buffer("input_index", torch.tensor(index), persistent=False)

    @staticmethod
    def _vector(values: Sequence[float | Tensor], like: Tensor) -> Tensor:
        if all(not isinstance(v, Tensor) for v in values):
            return torch.tensor(values, dtype=like.dtype, device=like.device)
        return torch.stack(
            [v.to(like.dtype) if isinstance(v, Tensor) else like.new_tensor(v) for v in values]
        )

    def _scale(self, weights: Sequence[float | Tensor], like: Tensor) -> Tensor | None:
        """Per-input-channel weights (1, C, 1, 1), or None when every weight is the constant 1."""
        if all(not isinstance(w, Tensor) and w == 1.0 for w in weights):
            return None
        return self._vector(weights, like)[self.input_index].view(1, -1, 1, 1)

    def can_fuse(self, positions: Sequence[int]) -> bool:
        """Whether a weighted sum over the inputs at ``positions`` can be read from the layer's
        own concatenation (:meth:`forward`'s ``skips``): consecutive inputs of equal width."""
        if not positions:
            return False
        first = positions[0]
        return (list(positions) == list(range(first, first + len(positions)))
                and len({self.input_channels[p] for p in positions}) == 1)

    def _features(
        self,
        scale: Tensor | None,
        skip_coefficients: Tensor | None,
        skip_layout: tuple[int, int, int] | None,
        update: bool,
        *inputs: Tensor,
    ) -> tuple[Tensor, Tensor | None]:
        x = torch.cat(inputs, 1)
        skip = None
        if skip_layout is not None and skip_coefficients is not None:
            lo, hi, count = skip_layout
            n = x.shape[0]
            part = x[:, lo:hi].reshape(n, count, -1)  # a view: no copy
            skip = torch.matmul(skip_coefficients.view(1, count), part)
            skip = skip.view(n, (hi - lo) // count, *x.shape[2:])
        if update or not self.norm1.training:
            y = self.norm1(x)
        else:  # recomputation: the same batch statistics; updates go to throw-away copies
            bn = self.norm1
            y = F.batch_norm(
                x,
                None if bn.running_mean is None else bn.running_mean.clone(),
                None if bn.running_var is None else bn.running_var.clone(),
                bn.weight,
                bn.bias,
                True,
                0.0,
                bn.eps,
            )
        y = self.relu1(y)
        conv = self.conv1
        weight = conv.weight if scale is None else conv.weight * scale
        return F.conv2d(y, weight, None, conv.stride, conv.padding), skip

    def forward(
        self,
        inputs: Sequence[Tensor],
        weights: Sequence[float | Tensor],
        skips: Sequence[tuple[int, float]] = (),
    ) -> Tensor:
        """sum_j weights_j T_j(inputs_j) + sum b z_p over ``skips`` (p, b) (module docstring);
        the skips must satisfy :meth:`can_fuse`."""
        if len(inputs) != len(self.input_channels) or len(weights) != len(inputs):
            raise ValueError(
                f"DenseLayer expects {len(self.input_channels)} inputs and weights, "
                f"got {len(inputs)} and {len(weights)}"
            )
        scale = self._scale(weights, inputs[0])
        layout = None
        if skips:
            positions = [p for p, _ in skips]
            if not self.can_fuse(positions):
                raise ValueError("DenseLayer skips must be consecutive inputs of equal width")
            layout = (self.offsets[positions[0]], self.offsets[positions[-1] + 1], len(skips))
        coefficients = self._vector([b for _, b in skips], inputs[0]) if skips else None
        if (
            self.memory_efficient
            and torch.is_grad_enabled()
            and any(t.requires_grad for t in inputs)
        ):
            calls = [0]

            def recomputable(
                scale_: Tensor | None, coefficients_: Tensor | None, *xs: Tensor
            ) -> tuple[Tensor, Tensor | None]:
                calls[0] += 1
                return self._features(scale_, coefficients_, layout, calls[0] == 1, *xs)

            out, skip = checkpoint(
                recomputable, scale, coefficients, *inputs, use_reentrant=False
            )
        else:
            out, skip = self._features(scale, coefficients, layout, True, *inputs)
        if self.drop1 is not None:
            out = self.drop1(out)
        if self.bottleneck is not None:
            out = self.conv2(self.relu2(self.norm2(out)))
            if self.drop2 is not None:
                out = self.drop2(out)
        return out if skip is None else out + skip

    def extra_repr(self) -> str:
        return f"inputs={len(self.input_channels)}, memory_efficient={self.memory_efficient}"


class Transition(nn.Sequential):
    """DenseNet's transition between dense blocks: BN-Phi-conv1x1-(dropout)-avgpool2.

    ``ceil_mode`` keeps inputs as small as 28x28 valid for DenseNet-121 (7 -> 4 -> 2 -> 1);
    at the paper's sizes (even maps) it changes nothing. Without dropout the module indices
    (and so the state_dict keys) are those of the plain transition.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        activation: ActivationFactory | None = None,
        dropout: float = 0.0,
    ) -> None:
        drop = _dropout(dropout)
        super().__init__(
            nn.BatchNorm2d(in_channels),
            (activation or _default())(inplace=True),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            *([] if drop is None else [drop]),
            nn.AvgPool2d(2, 2, ceil_mode=True),
        )


def cifar_stem(
    in_channels: int, width: int = 16, activation: ActivationFactory | None = None
) -> nn.Sequential:
    """He et al.'s CIFAR ResNet stem: conv3x3 (stride 1) to ``width`` channels, BN, Phi."""
    return nn.Sequential(
        nn.Conv2d(in_channels, width, 3, 1, 1, bias=False),
        nn.BatchNorm2d(width),
        (activation or _default())(inplace=True),
    )


def imagenet_stem(
    in_channels: int, width: int, activation: ActivationFactory | None = None
) -> nn.Sequential:
    """The ImageNet stem of ResNet and DenseNet: conv7x7 stride 2, BN, Phi, maxpool3x3 s2."""
    return nn.Sequential(
        nn.Conv2d(in_channels, width, 7, 2, 3, bias=False),
        nn.BatchNorm2d(width),
        (activation or _default())(inplace=True),
        nn.MaxPool2d(3, 2, 1),
    )


def init_weights(model: nn.Module) -> None:
    """Sec. 7.1: He initialisation [37] for convolutions, Xavier [38] for the classifier.

    Convolutions: He normal with ``fan_out`` (std = sqrt(2 / (k*k*C_out)), as in the ResNet and
    DenseNet code the paper follows). Fully connected layers: Xavier (Glorot) uniform. Biases
    zero; batch-norm scale 1, shift 0. Other parameters (for example a learnable momentum
    coefficient) keep their own initialisation. Models built on the meta device (shapes only,
    e.g. to count parameters) are left alone.
    """
    if any(p.is_meta for p in model.parameters()):
        return
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
            else:
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
