"""Tiny randomly initialised BLIP ITM and ViLT models, saved to a folder the way a user's local copy would be."""

from __future__ import annotations

import json
from pathlib import Path

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def save_tokenizer(folder: Path, words: list[str]) -> None:
    from transformers import BertTokenizer

    tokens = SPECIAL + sorted(set(words) - set(SPECIAL))
    BertTokenizer(vocab={token: i for i, token in enumerate(tokens)}).save_pretrained(folder)


def make_hub_model(folder: Path, architecture: str, words: list[str]) -> Path:
    """A tiny `architecture` model (random weights, seed 0) + tokenizer in `folder`; returns a backbone JSON config."""
    import torch
    from transformers import BlipConfig, BlipForImageTextRetrieval, ViltConfig, ViltForImageAndTextRetrieval

    folder.mkdir(parents=True, exist_ok=True)
    save_tokenizer(folder, words)
    vocab = len(SPECIAL) + len(set(words) - set(SPECIAL))
    torch.manual_seed(0)
    if architecture == "blip-itm":
        config = BlipConfig(
            text_config={"vocab_size": vocab, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                         "intermediate_size": 64, "max_position_embeddings": 32, "encoder_hidden_size": 32,
                         "pad_token_id": 0, "bos_token_id": 2, "sep_token_id": 3, "eos_token_id": 3},
            vision_config={"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
                           "image_size": 32, "patch_size": 8},
            projection_dim=16, image_text_hidden_size=16)
        BlipForImageTextRetrieval(config).save_pretrained(folder)
    else:
        config = ViltConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                            image_size=32, patch_size=8, max_position_embeddings=32)
        ViltForImageAndTextRetrieval(config).save_pretrained(folder)
    spec = {"name": f"tiny-{architecture}", "adapter": "hub", "architecture": architecture, "model": str(folder),
            "max_text_tokens": 24, "shared_space": architecture == "blip-itm"}
    path = folder.parent / f"tiny-{architecture}.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path
