"""timm face embeddings: crop folders and video + crop boxes, face_present, local weights."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import timm
import torch
from PIL import Image

from zoo.features import ExtractorError, create_extractor, label_times

MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])


def _face(i: int, size: int = 40) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    img = np.stack([(xx * 5 + i * 9) % 256, (yy * 4 + i * 3) % 256, ((xx + yy) * 3) % 256], -1)
    return img.astype(np.uint8)


def _reference(weights: Path, crops: list[np.ndarray], size: int = 64) -> np.ndarray:
    """Embeddings computed here: PIL bilinear resize, ImageNet normalisation, resnet18 pooled."""
    model = timm.create_model("resnet18", pretrained=False)
    model.load_state_dict(torch.load(weights, weights_only=True))
    model.reset_classifier(0)
    batch = []
    for crop in crops:
        x = np.asarray(Image.fromarray(crop).resize((size, size), Image.BILINEAR)) / 255.0
        batch.append(((x - MEAN) / STD).transpose(2, 0, 1))
    with torch.no_grad():
        return model.eval()(torch.tensor(np.stack(batch), dtype=torch.float32)).numpy()


def test_crop_folder_pooling_and_face_present(tmp_path, resnet18_weights):
    folder = tmp_path / "clip7"
    folder.mkdir()
    present = [0, 1, 2, 3, 4, 7, 8, 9]  # frames 5 and 6 have no face; 10 fps, 10 frames
    for i in present:
        Image.fromarray(_face(i)).save(folder / f"{i:06d}.png")
    ex = create_extractor("timm_face", weights=resnet18_weights, hop=0.2, arch="resnet18", fps=10, image_size=64)
    assert ex.find_inputs([tmp_path]) == [("clip7", folder)]
    times = label_times(ex.duration(folder), 0.2)
    np.testing.assert_allclose(times, [0, 0.2, 0.4, 0.6, 0.8])
    out = ex.extract(folder, times)
    assert out.values.shape == (5, 513) and out.columns[-1] == "face_present"
    ref = dict(zip(present, _reference(resnet18_weights, [_face(i) for i in present])))
    # label t owns frames in [t-0.1, t+0.1): t=0 → {0}, 0.2 → {1,2}, 0.4 → {3,4}, 0.6 → {5,6}, 0.8 → {7,8}
    np.testing.assert_allclose(out.values[0, :-1], ref[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out.values[1, :-1], (ref[1] + ref[2]) / 2, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(out.values[3], np.zeros(513))  # no face at all
    np.testing.assert_allclose(out.values[:, -1], [1, 1, 1, 0, 1])
    again = create_extractor(
        "timm_face", weights=resnet18_weights, hop=0.2, arch="resnet18", fps=10, image_size=64
    ).extract(folder, times)
    np.testing.assert_array_equal(out.values, again.values)
    # face_present=false (MuSe 2020's vggface layout): the 512 embedding columns alone, zeros without a face
    bare = create_extractor(
        "timm_face", weights=resnet18_weights, hop=0.2, arch="resnet18", fps=10, image_size=64, face_present="false"
    )
    assert bare.output_dim() == 512
    embedding = bare.extract(folder, times)
    assert embedding.values.shape == (5, 512) and "face_present" not in embedding.columns
    np.testing.assert_allclose(embedding.values[0], ref[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(embedding.values[3], np.zeros(512))
    assert bare.absent(times).values.shape == (5, 512)
    with pytest.raises(ExtractorError, match="face_present must be true or false"):
        create_extractor("timm_face", weights=resnet18_weights, arch="resnet18", face_present="maybe")


def _write_video(path: Path, frames: int = 10, fps: int = 10) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for i in range(frames):
            img = np.zeros((64, 96, 3), np.uint8)
            img[10:50, 20:60] = _face(i)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_video_with_crop_boxes(tmp_path, resnet18_weights):
    video = tmp_path / "vid1.mp4"
    _write_video(video)
    rows = ["frame,x,y,w,h"] + [f"{i},20,10,40,40" for i in range(10) if i not in (4, 5)]
    (tmp_path / "vid1.boxes.csv").write_text("\n".join(rows) + "\n")
    ex = create_extractor("timm_face", weights=resnet18_weights, hop=0.2, arch="resnet18", image_size=64)
    assert [r for r, _ in ex.find_inputs([tmp_path])] == ["vid1"]
    times = label_times(ex.duration(video), 0.2)
    out = ex.extract(video, times)
    assert out.values.shape == (5, 513)
    # label 0.4 owns frames 3,4 (4 has no face), label 0.6 owns frames 5,6 (5 has no face)
    np.testing.assert_allclose(out.values[:, -1], [1, 1, 0.5, 0.5, 1])
    with av.open(str(video)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    ref = _reference(resnet18_weights, [decoded[3][10:50, 20:60]])[0]
    np.testing.assert_allclose(out.values[2, :-1], ref, rtol=1e-4, atol=1e-4)


def test_missing_box_file_and_weights_errors(tmp_path, resnet18_weights):
    _write_video(tmp_path / "v.mp4", frames=3)
    ex = create_extractor("timm_face", weights=resnet18_weights, arch="resnet18", image_size=32)
    with pytest.raises(ExtractorError, match=r"v\.boxes\.csv.*not found.*header alone counts every frame as no face"):
        ex.extract(tmp_path / "v.mp4", np.array([0.0]))
    # what the message offers: the header alone is a video in which no face is seen
    (tmp_path / "v.boxes.csv").write_text("frame,x,y,w,h\n")
    assert ex.extract(tmp_path / "v.mp4", np.array([0.0])).values.shape[0] == 1
    with pytest.raises(ExtractorError, match="--weights"):
        create_extractor("timm_face", arch="resnet18")
    with pytest.raises(ExtractorError, match="resnet50"):  # resnet18 file, resnet50 model
        create_extractor("timm_face", weights=resnet18_weights, arch="resnet50")


def test_face_crops_fixed_crop_serves_the_recola_readers_images(tmp_path):
    """``face_crops`` with ``crop_box=centre`` and ``face_present=false`` is RECOLA's raw ``video``
    set: the reader's own crops (``read_video_frames``), as images; label times past the last
    frame take the last frame; a bad ``crop_box`` is refused by name."""
    from zoo.data.video_frames import read_video_frames

    video = tmp_path / "clip.mp4"
    _write_video(video)  # 10 frames at 10 fps: the last at 0.9 s
    extractor = create_extractor("face_crops", hop=0.1, size=8, crop_box="centre", face_present=False)
    assert extractor.output_shape() == [8, 8, 3] and extractor.output_dim() == 8 * 8 * 3
    times = np.arange(12) * 0.1  # 1.0 s and 1.1 s: past the last frame
    images = extractor.images(video, times)
    assert images.dtype == np.uint8 and images.shape == (12, 8, 8, 3)
    clipped = np.minimum(times, 0.9)
    np.testing.assert_array_equal(images, read_video_frames(video, clipped, 8, None))
    flat = extractor.extract(video, times)
    assert flat.values.shape == (12, 8 * 8 * 3)  # no face_present column
    np.testing.assert_array_equal(flat.values, images.reshape(12, -1).astype(np.float32))
    boxed = create_extractor("face_crops", hop=0.1, size=8, crop_box=[0, 0, 4, 4], face_present="false")
    np.testing.assert_array_equal(boxed.images(video, clipped), read_video_frames(video, clipped, 8, [0, 0, 4, 4]))
    with pytest.raises(ExtractorError, match="crop_box must be null, 'centre' or 4 integers"):
        create_extractor("face_crops", hop=0.1, crop_box="middle")
