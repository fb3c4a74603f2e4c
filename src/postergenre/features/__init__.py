"""Image features: poster file -> canvas -> (in-graph) backbone embedding, cached by content.

canvas       the fixed decode contract (PIL stretch to CANVAS_HW, uint8)
backbones    registry name -> (BackboneSpec, builder); BackboneFeatures: pixels -> embedding
onnx_export  checked, atomic, cached ONNX export of pixel-input modules
runtime      onnxruntime CPU sessions and bare throughput
extract      embed(paths) with decode/inference overlap and the embedding cache
"""

from .backbones import BackboneFeatures, BackboneSpec, create_trunk, get_spec, list_backbones
from .canvas import CANVAS_HW, canvas, load_canvas, to_batch
from .extract import embed, embedding_store
from .onnx_export import ExportError, backbone_onnx, export_module
from .runtime import open_session, throughput

__all__ = [
    "CANVAS_HW",
    "BackboneFeatures",
    "BackboneSpec",
    "ExportError",
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
