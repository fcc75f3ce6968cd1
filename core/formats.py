"""Checkpoints: our format (safetensors + JSON + tokenizer, one folder) and OpenAI import.

Our folder:
    model.safetensors   weights and buffers (a tied unembedding is stored once, as wte)
    config.json         {"format", "version", "model": GPTConfig, "sparsity": {...}, "step"}
    tokenizer.json      the tokenizer the model was trained with
    optimizer.safetensors, train_state.json   only in training checkpoints, for --resume

OpenAI's circuit_sparsity folder: beeg_config.json + final_model.pt (a torch state dict, read
with weights_only=True so that no pickled code runs). Its tokenizer, tinypython_2k, is a
`tinypython/` folder in the model's folder or a parent (OpenAI's storage layout), or encoder.json
+ vocab.bpe beside the weights, or a folder given by the caller.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .config import ConfigError, GPTConfig, check_fits_in_memory
from .data.tinypython import TinyPythonTokenizer, find_tokenizer_dir, load_tokenizer
from .data.tokenizer import Tokenizer
from .fileio import FileFormatError, atomic_write_text, check_size, read_json, replace_dir
from .generators import drain
from .model import GPT
from .sparse import (
    SPARSE_BELOW,
    SparseLinear,
    dense,
    densify,
    release_pages,
    sparse_keys,
    sparsify,
    to_csr,
    weight_density,
)

FORMAT_NAME = "sparse-circuits-checkpoint"
FORMAT_VERSION = 1
MAX_WEIGHTS_BYTES = 32 << 30

# OpenAI GPTConfig defaults: a released beeg_config.json only lists what differs from them.
OPENAI_DEFAULTS = dict(
    block_size=1024,
    vocab_size=50304,
    n_layer=12,
    n_head=12,
    d_model=768,
    d_head=None,
    dropout=0.0,
    bias=True,
    ln_bias=True,
    rms_norm=False,
    residual_activation_type="identity",
    activation_type="gelu",
    afrac=None,
    afrac_loctypes="attn_in,attn_out,mlp_in,mlp_out",
    tied_unembed=True,
    tokenizer_name="tinypython_2k",
    d_mlp=None,
    enable_bigram_table=False,
    learnable_bigram_table=False,
    d_pos_emb=None,
    dropout_cat_pos_emb=False,
    sinusoidal_cat_pos_emb=False,
    sink=False,
)
# Keys of beeg_config.json that only steer OpenAI's training or kernels.
OPENAI_IGNORED_KEYS = {
    "flash",
    "grad_checkpointing",
    "debug_nans",
    "enable_sparse_kernels",
    "bigram_table_rank",
    "use_tied_aux_matrix",
}


@dataclass
class Checkpoint:
    model: GPT
    tokenizer: Tokenizer | TinyPythonTokenizer | None
    meta: dict = field(default_factory=dict)  # sparsity settings, step, source format
    path: Path | None = None


def model_state(model: GPT) -> dict[str, torch.Tensor]:
    """State dict with each tensor once (a tied unembedding is kept as wte only)."""
    state = model.state_dict()
    if model.config.tied_unembed:
        state.pop("lm_head.weight", None)
    return {k: dense(v.detach()).cpu().contiguous() for k, v in state.items()}


def check_state(model: GPT, state: dict[str, torch.Tensor], source: Path) -> None:
    """FileFormatError unless `state` has exactly the model's tensors, in the model's shapes."""
    expected = model.state_dict()
    if model.config.tied_unembed:
        expected.pop("lm_head.weight", None)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing[:5]))
        if unexpected:
            parts.append("unexpected " + ", ".join(unexpected[:5]))
        raise FileFormatError(f"{source}: weights do not match the config ({'; '.join(parts)})")
    for name, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise FileFormatError(
                f"{source}: {name} has shape {tuple(tensor.shape)}, "
                f"the config needs {tuple(expected[name].shape)}"
            )


def load_state(model: GPT, state: dict[str, torch.Tensor], source: Path) -> None:
    check_state(model, state, source)
    model.load_state_dict(state, strict=False)


def save_checkpoint(
    folder: Path,
    model: GPT,
    tokenizer: Tokenizer | None,
    meta: dict,
    extra_files: dict[str, dict[str, torch.Tensor] | dict] | None = None,
) -> None:
    """Write the checkpoint folder whole or not at all. `extra_files` maps a file name to
    tensors (saved as safetensors) or a dict (saved as JSON)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
    try:
        save_file(model_state(model), str(staging / "model.safetensors"))
        config = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "model": model.config.to_dict(), **meta}
        atomic_write_text(staging / "config.json", json.dumps(config, indent=1))
        if tokenizer is not None:
            tokenizer.save(staging / "tokenizer.json")
        for name, content in (extra_files or {}).items():
            if name.endswith(".safetensors"):
                save_file(content, str(staging / name))
            else:
                atomic_write_text(staging / name, json.dumps(content, indent=1))
        replace_dir(staging, folder)
    except BaseException:
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
        raise


def find_checkpoint_dir(path: Path) -> Path:
    """A checkpoint folder, a run folder holding `checkpoint/`, or an OpenAI model folder."""
    path = Path(path)
    if not path.exists():
        raise FileFormatError(f"{path}: no such file or folder")
    if path.is_file():
        path = path.parent
    for candidate in (path, path / "checkpoint", path / "checkpoint.old"):
        if (candidate / "config.json").is_file() or (candidate / "beeg_config.json").is_file():
            return candidate
    raise FileFormatError(f"{path}: not a checkpoint (no config.json or beeg_config.json)")


def is_openai_folder(folder: Path) -> bool:
    """A checkpoint folder in OpenAI's format (beeg_config.json, and none of ours)."""
    return (folder / "beeg_config.json").is_file() and not (folder / "config.json").is_file()


def load_checkpoint(
    path, device: str | torch.device = "cpu", tokenizer=None, sparse: bool | None = False
) -> Checkpoint:
    """`iter_load_checkpoint`, run to its end."""
    return drain(iter_load_checkpoint(path, device, tokenizer, sparse))


def iter_load_checkpoint(
    path, device: str | torch.device = "cpu", tokenizer=None, sparse: bool | None = False
) -> Generator[tuple[int, int], None, Checkpoint]:
    """Yields (tensors read, of all) while an OpenAI model's weights are read one by one, then
    returns the Checkpoint. `tokenizer`: a folder of encoder.json + vocab.bpe for an OpenAI
    model (default: found beside or above it); our checkpoints carry their own. `sparse`:
    hold the big matrices as CSR (core/sparse.py; for inference and circuit work, not
    training), True, False, or None for sparse when under SPARSE_BELOW of their weights are
    nonzero (on CPU and CUDA)."""
    folder = find_checkpoint_dir(Path(path))
    device = torch.device(device)
    if sparse is None and device.type not in ("cpu", "cuda"):
        sparse = False
    if is_openai_folder(folder):
        ckpt = yield from iter_load_openai(folder, tokenizer, sparse)
    elif tokenizer is not None:
        raise FileFormatError(
            f"{folder}: a tokenizer folder is for OpenAI models; this checkpoint has its own tokenizer"
        )
    else:
        ckpt = load_ours_while_training(folder)
        if sparse or (sparse is None and weight_density(ckpt.model) < SPARSE_BELOW):
            sparsify(ckpt.model)
    ckpt.model.to(device).eval()
    return ckpt


def load_ours_while_training(folder: Path, attempts: int = 5) -> Checkpoint:
    """`load_ours`, for a checkpoint that a training run (any torchrun rank 0) may replace while
    it is read: a save swaps in a whole new folder (fileio.replace_dir), so a read that saw the
    folder change under it (another inode, or none) is made again from the new one, never
    mixing the files of two saves."""
    for attempt in range(attempts):
        before = _inode(folder)
        try:
            ckpt = load_ours(folder)
        except (FileFormatError, OSError):
            if attempt + 1 < attempts and _inode(folder) != before:
                continue
            raise
        if _inode(folder) == before:
            return ckpt
    raise FileFormatError(f"{folder}: replaced {attempts} times while being read; try again")


def _inode(folder: Path) -> int | None:
    try:
        return folder.stat().st_ino
    except OSError:
        return None


def load_ours(folder: Path) -> Checkpoint:
    config_path = folder / "config.json"
    data = read_json(config_path)
    if data.get("format") != FORMAT_NAME:
        raise FileFormatError(f"{config_path}: not a {FORMAT_NAME} config")
    if data.get("version") != FORMAT_VERSION:
        raise FileFormatError(
            f"{config_path}: version {data.get('version')!r} is not supported "
            f"(this program reads version {FORMAT_VERSION})"
        )
    if not isinstance(data.get("model"), dict):
        raise FileFormatError(f"{config_path}: field 'model' must be an object")
    try:
        config = GPTConfig.from_dict(data["model"], source=f"{config_path}: model")
        check_fits_in_memory(config, str(config_path))
    except ConfigError as e:
        raise FileFormatError(str(e)) from None
    weights = folder / "model.safetensors"
    check_size(weights, MAX_WEIGHTS_BYTES)
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as e:
        raise FileFormatError(f"{weights}: not a readable safetensors file ({e})") from None
    model = GPT(config)
    load_state(model, state, weights)
    tokenizer = None
    if (folder / "tokenizer.json").is_file():
        tokenizer = Tokenizer.load(folder / "tokenizer.json")
    meta = {k: v for k, v in data.items() if k not in ("model",)}
    meta["source_format"] = "sparse-circuits"
    return Checkpoint(model, tokenizer, meta, folder)


def openai_config(raw: dict, source: Path) -> GPTConfig:
    raw = dict(raw)
    if raw.pop("use_tied_aux_matrix", False):
        raise FileFormatError(f"{source}: use_tied_aux_matrix models are not supported")
    if "n_mlp" in raw:
        raw["d_mlp"] = raw.pop("n_mlp")
    unknown = set(raw) - set(OPENAI_DEFAULTS) - OPENAI_IGNORED_KEYS
    if unknown:
        raise FileFormatError(f"{source}: unknown config fields: {', '.join(sorted(unknown))}")
    fields = {**OPENAI_DEFAULTS, **{k: v for k, v in raw.items() if k in OPENAI_DEFAULTS}}
    try:
        return GPTConfig(**fields, learned_pos_emb=True)
    except (ConfigError, TypeError) as e:
        raise FileFormatError(f"{source}: {e}") from None


def _read_torch_state(weights: Path, mmap: bool) -> dict:
    try:
        try:
            raw = torch.load(weights, map_location="cpu", weights_only=True, mmap=mmap)
        except RuntimeError:
            if not mmap:
                raise
            raw = torch.load(weights, map_location="cpu", weights_only=True)  # an old, unzipped file
    except Exception as e:  # torch raises many types for a bad or unsafe file
        raise FileFormatError(
            f"{weights}: not a readable torch state dict ({torch_load_reason(e)})"
        ) from None
    if not isinstance(raw, dict):
        raise FileFormatError(f"{weights}: expected a state dict")
    return raw


def load_openai(folder: Path, tokenizer_dir=None, sparse: bool | None = False) -> Checkpoint:
    return drain(iter_load_openai(folder, tokenizer_dir, sparse))


def iter_load_openai(
    folder: Path, tokenizer_dir=None, sparse: bool | None = False
) -> Generator[tuple[int, int], None, Checkpoint]:
    """Memory-mapped, read tensor by tensor (yielding how many of all are read). Dense
    (`sparse` False): each copied out as OpenAI's loader has it. Otherwise each matrix is
    converted to CSR as it is reached, its pages handed back once read, so that memory peaks
    near the sparse size; with `sparse` None the model goes back to dense if its matrices turn
    out to be over SPARSE_BELOW nonzero."""
    config_path = folder / "beeg_config.json"
    config = openai_config(read_json(config_path), config_path)
    if sparse is False:  # a sparse load holds only the nonzeros
        try:
            check_fits_in_memory(config, str(config_path))
        except ConfigError as e:
            raise FileFormatError(str(e)) from None
    weights = folder / "final_model.pt"
    check_size(weights, MAX_WEIGHTS_BYTES)
    raw = _read_torch_state(weights, mmap=True)
    renamed = {}
    for name in list(raw):
        if name.endswith(".attn.bias"):  # the causal-mask buffer of the slow path
            continue
        renamed[name.replace(".attn.attn_imp.sink_logit", ".attn.sink_logit")] = name
    # The sink is a parameter only where training used it; OpenAI's eager loader skips it.
    config.sink = any(k.endswith(".attn.sink_logit") for k in renamed)
    if sparse is False:
        state = {}
        for done, (name, original) in enumerate(renamed.items()):
            tensor = raw.pop(original)
            state[name] = tensor.to(torch.float32 if tensor.is_floating_point() else tensor.dtype, copy=True)
            del tensor
            yield done + 1, len(renamed)
        del raw
        state.setdefault("final_logits_bias", torch.zeros(config.vocab_size))
        if config.tied_unembed:
            state.pop("lm_head.weight", None)
        model = GPT(config)
        load_state(model, state, weights)
    else:
        model = yield from _stream_sparse(config, raw, renamed, weights)
        if sparse is None and weight_density(model) >= SPARSE_BELOW:
            densify(model)
    tokenizer_dir = tokenizer_dir or find_tokenizer_dir(folder)
    tokenizer = load_tokenizer(tokenizer_dir) if tokenizer_dir else None
    meta = {"source_format": "openai-circuit-sparsity"}
    if tokenizer is not None:
        meta["tokenizer"] = str(tokenizer.source)
    return Checkpoint(model, tokenizer, meta, folder)


def _stream_sparse(
    config: GPTConfig, raw: dict, renamed: dict[str, str], source: Path
) -> Generator[tuple[int, int], None, GPT]:
    """Build the model on the meta device (no memory), then fill it tensor by tensor from the
    memory-mapped `raw`: matrices as CSR, everything else copied out of the mapping."""
    with torch.device("meta"):
        model = GPT(config)
    matrices = {f"{key}.weight" for key in sparse_keys(model)}
    state = {}
    for done, (name, original) in enumerate(renamed.items()):
        tensor = raw.pop(original)
        if name in matrices and tensor.dim() == 2:
            state[name] = to_csr(tensor, release=True)
        else:
            dtype = torch.float32 if tensor.is_floating_point() else tensor.dtype
            state[name] = tensor.to(dtype, copy=True)
            release_pages(tensor)
        del tensor
        yield done + 1, len(renamed)
    del raw
    state.setdefault("final_logits_bias", torch.zeros(config.vocab_size))
    if config.tied_unembed:
        state.pop("lm_head.weight", None)
    check_state(model, state, source)
    for name in matrices:
        key = name.removesuffix(".weight")
        model.replace_linear(key, SparseLinear(state.pop(name), state.pop(f"{key}.bias", None)))
    model.load_state_dict(state, strict=False, assign=True)
    if config.tied_unembed:
        model.lm_head.weight = model.transformer.wte.weight
    left = [name for name, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if left:
        raise FileFormatError(f"{source}: no values for {', '.join(left[:5])}")
    return model


def load_model(path, device: str | torch.device = "cpu", tokenizer=None, sparse: bool | None = None) -> GPT:
    """The model of a checkpoint of ours or an OpenAI folder, in eval mode; its tokenizer (or
    None, when an OpenAI model has no tinypython folder beside or above it and `tokenizer`
    names none) is `model.tokenizer`. `sparse` as load_checkpoint's, but by default chosen by
    the model's density."""
    ckpt = load_checkpoint(path, device, tokenizer, sparse)
    ckpt.model.tokenizer = ckpt.tokenizer
    return ckpt.model


def torch_load_reason(error: Exception) -> str:
    """torch.load's error in one line: an unsafe pickle's reason is several paragraphs."""
    text = str(error)
    if "Weights only load failed" in text or "WeightsUnpickler" in text:
        return "it holds objects other than tensors, which are never unpickled (weights only)"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
