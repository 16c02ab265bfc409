"""``zoo import hsemotion-va``: an EfficientNet-B0 with random weights exported to ONNX the way
HSEmotion exported ``enet_b0_8_va_mtl.onnx`` (``torch.onnx.export``, opset 11, constant folding,
input ``input`` / output ``output``, dynamic batch), imported, against the timm network itself.

The video reference (not the importer's code): PyAV decodes the synthesised MP4, each label time
takes its nearest frame, the box of ``<id>.boxes.csv`` is cut and resized to 224 with PIL's
bilinear filter, ImageNet-normalised, run through the timm model; valence and arousal are
outputs 8 and 9; each label frame averages the face frames within half a window.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import av
import numpy as np
import pytest
import torch

FPS, FRAMES = 10, 21  # 2 s of video
NO_FACE = (5, 6, 7)  # frames without a box


@pytest.fixture(scope="module")
def enet(tmp_path_factory) -> tuple[torch.nn.Module, Path]:
    """timm's efficientnet_b0 with 10 outputs (8 expressions + valence + arousal), random weights
    and random batch-norm statistics, and its ONNX export in HSEmotion's file layout."""
    import timm

    torch.manual_seed(0)
    model = timm.create_model("efficientnet_b0", pretrained=False, num_classes=10)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    model.eval()
    path = tmp_path_factory.mktemp("hsemotion") / "enet_b0_8_va_mtl.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            torch.randn(1, 3, 224, 224),
            str(path),
            opset_version=11,
            do_constant_folding=True,
            export_params=True,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "batch_size"}, "output": {0: "batch_size"}},
            dynamo=False,
        )
    return model, path


def test_imported_graph_matches_the_timm_network(tmp_path, enet):
    import zoo
    from zoo.hub.importers import import_pretrained

    model, onnx_file = enet
    bundle = import_pretrained("hsemotion-va", onnx_file.parent, tmp_path / "bundle")
    imported = zoo.load_pretrained(bundle)
    assert imported.target_names == ["valence", "arousal"]
    x = torch.randn(3, 3, 224, 224)
    with torch.no_grad():
        ours, theirs = imported.net.net(x), model(x)
    difference = float((ours - theirs).abs().max())
    print(f"hsemotion-va: max |ONNX graph as torch - timm efficientnet_b0| = {difference:.2e}")
    assert difference < 1e-4


def _face(i: int) -> np.ndarray:
    rng = np.random.default_rng(i)
    return (rng.uniform(0, 255, (1, 1, 3)) * np.ones((40, 40, 3)) + rng.normal(0, 30, (40, 40, 3))).clip(0, 255)


def _write_video(path: Path) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for i in range(FRAMES):
            img = np.zeros((64, 96, 3), np.uint8)
            img[10:50, 20 + i : 60 + i] = _face(i).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    rows = ["frame,x,y,w,h"] + [f"{i},{20 + i},10,40,40" for i in range(FRAMES) if i not in NO_FACE]
    path.with_name(path.stem + ".boxes.csv").write_text("\n".join(rows) + "\n")


def _reference(model: torch.nn.Module, video: Path, times: np.ndarray, window: float, step: float) -> np.ndarray:
    from PIL import Image

    frames, stamps = [], []
    with av.open(str(video)) as container:
        for frame in container.decode(container.streams.video[0]):
            frames.append(frame.to_ndarray(format="rgb24"))
            stamps.append(float(frame.time))
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    per_frame, present = [], []
    for t in times:
        i = int(np.abs(np.asarray(stamps) - t).argmin())
        present.append(i not in NO_FACE)
        if i in NO_FACE:
            per_frame.append(np.zeros(2))
            continue
        crop = frames[i][10:50, 20 + i : 60 + i]
        x = np.asarray(Image.fromarray(crop).resize((224, 224), Image.BILINEAR), np.float64) / 255.0
        x = ((x - mean) / std).transpose(2, 0, 1)[None].astype(np.float32)
        with torch.no_grad():
            per_frame.append(model(torch.from_numpy(x))[0, 8:10].double().numpy())
    per_frame, present = np.asarray(per_frame), np.asarray(present)
    half = int(np.floor(window / 2 / step + 1e-9))
    out = []
    for k in range(len(times)):
        lo, hi = max(0, k - half), min(len(times), k + half + 1)
        faces = present[lo:hi]
        out.append(per_frame[lo:hi][faces].mean(0))
    return np.asarray(out)


@pytest.mark.slow
def test_zoo_predict_runs_the_imported_face_bundle_on_an_mp4(tmp_path, enet):
    import pandas as pd

    from zoo.cli import run

    model, onnx_file = enet
    assert run(["import", "hsemotion-va", str(onnx_file), str(tmp_path / "bundle")])["exit_code"] == 0
    video = tmp_path / "face.mp4"
    _write_video(video)
    command = ["predict", str(tmp_path / "bundle"), str(video), "--output", str(tmp_path / "preds")]
    assert run([*command, "--step", "0.3", "--window", "1", "--plot"])["exit_code"] == 0
    table = pd.read_csv(tmp_path / "preds" / "face.csv")
    assert list(table.columns) == ["timestamp", "valence", "arousal"]
    times = table["timestamp"].to_numpy()
    np.testing.assert_allclose(times, np.arange(len(times)) * 0.3)
    expected = _reference(model, video, times, window=1.0, step=0.3)
    difference = float(np.abs(table[["valence", "arousal"]].to_numpy() - expected).max())
    print(f"zoo predict face.mp4 --step 0.3 --window 1: max |CSV - timm reference| = {difference:.2e}")
    assert difference < 1e-4
    assert (tmp_path / "preds" / "plots" / "face.png").stat().st_size > 0


def test_graphs_with_unsupported_operators_or_other_heads_are_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    from zoo.hub.importers import ImportError_, import_pretrained

    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 8, 8])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3, 8, 8])
    graph = helper.make_graph([helper.make_node("LpNormalization", ["input"], ["output"])], "g", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)]), str(tmp_path / "odd.onnx"))
    with pytest.raises(ImportError_, match="operator 'LpNormalization' is not supported"):
        import_pretrained("hsemotion-va", tmp_path / "odd.onnx", tmp_path / "b1")
    pooled = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3])
    nodes = [
        helper.make_node("GlobalAveragePool", ["input"], ["p"]),
        helper.make_node("Flatten", ["p"], ["output"], axis=1),
    ]
    graph = helper.make_graph(nodes, "g", [x], [pooled])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)]), str(tmp_path / "cls.onnx"))
    with pytest.raises(ImportError_, match="3 outputs; a multi-task HSEmotion model"):
        import_pretrained("hsemotion-va", tmp_path / "cls.onnx", tmp_path / "b2")


def test_face_crops_of_a_crop_folder_are_the_nearest_frames_resized(tmp_path):
    from PIL import Image

    from zoo.features import create_extractor

    folder = tmp_path / "clip"
    folder.mkdir()
    rng = np.random.default_rng(0)
    images = {i: rng.integers(0, 255, (30, 20, 3), dtype=np.uint8) for i in range(8) if i != 5}
    for i, image in images.items():
        Image.fromarray(image).save(folder / f"{i:06d}.png")
    out = create_extractor("face_crops", hop=0.25, size=16, fps=10).extract(folder, np.array([0.0, 0.25, 0.5, 0.7]))
    assert out.values.shape == (4, 16 * 16 * 3 + 1)
    for row, frame in enumerate([0, 2, 5, 7]):  # round(t * fps); frame 5 has no crop
        if frame == 5:
            assert out.values[row, -1] == 0 and not out.values[row, :-1].any()
            continue
        expected = np.asarray(Image.fromarray(images[frame]).resize((16, 16), Image.BILINEAR), np.float32)
        np.testing.assert_array_equal(out.values[row, :-1], expected.reshape(-1))
        assert out.values[row, -1] == 1
