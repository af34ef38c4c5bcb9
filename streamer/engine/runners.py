"""One call per batch on a runtime: OpenVINO, ONNX Runtime, or ultralytics' AutoBackend (PyTorch, TensorRT).

A runner takes a batch of letterboxed frames and returns the model's raw output; NMS is the caller's."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import torch


class Runner(Protocol):
    name: str  # the runtime, for logs and figures
    end2end: bool  # the output is already one row per box (no NMS needed)
    dtype: np.dtype  # the input it wants
    takes_uint8_bgr: bool  # the letterboxed frames as they are (NHWC BGR uint8), else float NCHW RGB in 0…1

    def run(self, batch: np.ndarray) -> torch.Tensor: ...


class OpenVinoRunner:
    """Takes the letterboxed uint8 BGR frames as they lie in shared memory: colour order, layout and scaling are
    compiled into the graph (OpenVINO's PrePostProcessor), so the engine does no per-pixel work in numpy.

    LATENCY hint with the whole batch in one synchronous call. Measured on 2 cores beside a camera worker, it is
    as fast as THROUGHPUT with an AsyncInferQueue of single frames (33 fps either way on 768x576), and a
    synchronous call cannot hang the engine the way ultralytics reports AsyncInferQueue hanging on some Intel and
    AMD CPUs. The precision is always stated: on AMX CPUs OpenVINO would otherwise pick bf16 by itself."""

    name = "openvino"
    end2end = False
    takes_uint8_bgr = True

    def __init__(self, model_dir: Path, threads: int | None, precision: str):
        import openvino as ov
        from openvino.preprocess import ColorFormat, PrePostProcessor

        core = ov.Core()
        model = core.read_model(next(model_dir.glob("*.xml")))
        ppp = PrePostProcessor(model)
        ppp.input().tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC")).set_color_format(
            ColorFormat.BGR
        )
        ppp.input().model().set_layout(ov.Layout("NCHW"))
        ppp.input().preprocess().convert_element_type(ov.Type.f32).convert_color(ColorFormat.RGB).scale(255.0)
        config: dict[str, object] = {
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": {"bf16": ov.Type.bf16, "fp16": ov.Type.f16}.get(precision, ov.Type.f32),
        }
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        self.compiled = core.compile_model(ppp.build(), "CPU", config)
        self.dtype = np.dtype(np.uint8)

    def run(self, batch: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(self.compiled(batch)[0].copy())


class OnnxRuntimeRunner:
    name = "onnxruntime"
    end2end = False
    takes_uint8_bgr = False

    def __init__(self, path: Path, threads: int | None, device: str, fp16: bool):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1  # one graph at a time; parallelism is inside the operators
        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda"):
            index = int(device.partition(":")[2] or 0)
            providers.insert(0, ("CUDAExecutionProvider", {"device_id": index}))
        self.session = ort.InferenceSession(str(path), options, providers=providers)
        self.input_name = self.session.get_inputs()[0].name
        self.dtype = np.dtype(np.float16 if fp16 else np.float32)

    def run(self, batch: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(self.session.run(None, {self.input_name: batch})[0])


class AutoBackendRunner:
    """PyTorch weights (fp16 on CUDA) and TensorRT engines through ultralytics' AutoBackend, which owns their
    bindings and dynamic shapes."""

    takes_uint8_bgr = False

    def __init__(self, path: Path, device: str, fp16: bool, name: str):
        from ultralytics.nn.autobackend import AutoBackend

        self.name = name
        self.device = torch.device(device)
        self.backend = AutoBackend(str(path), device=self.device, fp16=fp16, fuse=True, verbose=False)
        self.backend.eval()
        self.end2end = bool(getattr(self.backend, "end2end", False))
        self.dtype = np.dtype(np.float32)

    @torch.inference_mode()
    def run(self, batch: np.ndarray) -> torch.Tensor:
        output = self.backend(torch.from_numpy(batch).to(self.device))
        output = output[0] if isinstance(output, (list, tuple)) else output
        return output.float().cpu()
