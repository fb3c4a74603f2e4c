"""Per-item model inputs: poster file -> canvas -> cached embeddings or pixels, named.

canvas       the fixed decode contract (PIL stretch to CANVAS_HW, uint8)
backbones    registry name -> (BackboneSpec, builder); BackboneFeatures: pixels -> embedding
onnx_export  checked, atomic, cached ONNX export of pixel-input modules
runtime      onnxruntime CPU sessions and bare throughput
producer     the one cached-producer helper: per content, resumable, decode overlapped
embeddings   backbone embeddings as a cached producer (``embed``)
pixels       pixels at a model's size as a cached producer (``load_pixels``)
specs        one module per input: its record field and the model inputs made from it
inputs       ``Inputs``: named arrays with presence masks, what models read
"""

from .backbones import BackboneFeatures, BackboneSpec, create_trunk, get_spec, list_backbones
from .canvas import CANVAS_HW, canvas, load_canvas, to_batch
from .embeddings import embed, embedding_store
from .inputs import Inputs
from .onnx_export import ExportError, backbone_onnx, export_module
from .runtime import open_session, throughput

__all__ = [
    "CANVAS_HW",
    "BackboneFeatures",
    "BackboneSpec",
    "ExportError",
    "Inputs",
    "backbone_onnx",
    "canvas",
    "create_trunk",
    "embed",
    "embedding_store",
    "export_module",
    "get_spec",
    "list_backbones",
    "load_canvas",
    "open_session",
    "throughput",
    "to_batch",
]
