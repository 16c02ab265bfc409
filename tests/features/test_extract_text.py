"""Text extractors: tiny local BERT (last / sum-2 / sum-4 layers), GloVe file, word/turn alignment."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from zoo.features import ExtractorError, create_extractor, label_times
from zoo.features.text import read_transcript


def _hidden_word_vectors(model_dir, words, last):
    """Reference: sum the model's own output_hidden_states; mean over each word's sub-words."""
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModel.from_pretrained(str(model_dir)).eval()
    enc = tok(words, is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc, output_hidden_states=True).hidden_states
    assert len(hidden) == 5  # embeddings + 4 layers
    summed = sum(hidden[-i] for i in range(1, last + 1))[0].numpy()
    ids = enc.word_ids(0)
    return np.stack([summed[[j for j, w in enumerate(ids) if w == k]].mean(0) for k in range(len(words))])


@pytest.fixture()
def words_csv(tmp_path):
    path = tmp_path / "talk1.csv"
    path.write_text("start,end,word\n0.0,0.6,the\n0.6,1.1,car\n1.1,1.6,drives\n2.05,2.1,fast\n")
    return path


@pytest.mark.parametrize("name,last", [("bert", 1), ("bert2", 2), ("bert4", 4)])
def test_bert_layer_sums_word_level(words_csv, tiny_bert, name, last):
    ex = create_extractor(name, weights=tiny_bert, hop=0.25)
    times = label_times(ex.duration(words_csv), 0.25)  # 0 .. 2.0 → 9 frames
    out = ex.extract(words_csv, times)
    assert out.values.shape == (9, 32)
    ref = _hidden_word_vectors(tiny_bert, ["the", "car", "drives", "fast"], last)
    # frames: 0,.25,.5 → the; .75,1.0 → car; 1.25,1.5 → drives ("drive" + "##s" averaged);
    # 1.75 → nothing; 2.0 → "fast" (shorter than a step, nearest frame to its midpoint)
    expected = [0, 0, 0, 1, 1, 2, 2, None, 3]
    for k, word in enumerate(expected):
        target = np.zeros(32) if word is None else ref[word]
        np.testing.assert_allclose(out.values[k], target, rtol=1e-4, atol=1e-5)


def test_bert_turn_level_mean_and_chunking(tmp_path, tiny_bert):
    path = tmp_path / "Train_01.csv"
    path.write_text("0.5;1.0;the car is red\n1.5;2.0;it drives\n")
    units, level = read_transcript(path)
    assert level == "turn" and units[1] == (1.5, 2.0, "it drives")
    ex = create_extractor("bert", weights=tiny_bert, hop=0.5)
    out = ex.extract(path, label_times(2.0, 0.5))
    ref0 = _hidden_word_vectors(tiny_bert, "the car is red".split(), 1).mean(0)
    np.testing.assert_allclose(out.values[1], ref0, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(out.values[0], 0)
    np.testing.assert_array_equal(out.values[2], 0)  # 1.0 is the turn's end (exclusive)
    small = create_extractor("bert", weights=tiny_bert, max_tokens=2)  # 4 words → 2 chunks
    vectors = small.word_vectors("the car is red".split())
    np.testing.assert_allclose(vectors[2:], _hidden_word_vectors(tiny_bert, ["is", "red"], 1), atol=1e-5)


def test_glove_word_vectors_and_unknown_words(tmp_path):
    glove = tmp_path / "glove.txt"
    glove.write_text("the 1 0 0\ncar 0 1 0\nfast 0 0 1\n")
    path = tmp_path / "w.csv"
    path.write_text("start,end,word\n0.0,0.5,The\n0.5,1.0,zebra\n1.0,1.5,car\n")
    ex = create_extractor("word_vectors", weights=glove, hop=0.25)
    out = ex.extract(path, label_times(1.5, 0.25))
    np.testing.assert_array_equal(
        out.values, [[1, 0, 0], [1, 0, 0], [0, 0, 0], [0, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 0]]
    )


def test_text_errors(tmp_path, tiny_bert):
    with pytest.raises(ExtractorError, match="--weights"):
        create_extractor("bert4")
    bad = tmp_path / "bad.csv"
    bad.write_text("start,end,word\n0.0,x,the\n")
    with pytest.raises(ExtractorError, match="line 2"):
        read_transcript(bad)
    with pytest.raises(ExtractorError, match="local transformers model directory"):
        create_extractor("bert", weights=bad)
    glove = tmp_path / "g.txt"
    glove.write_text("a 1 2\nb 1\n")
    with pytest.raises(ExtractorError, match="line 2"):
        create_extractor("word_vectors", weights=glove)


def test_transcript_columns_found_by_header(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text('word,end,start,conf\n"car",1.0,0.5,0.9\nfast,1.5,1.0,0.8\n')
    assert read_transcript(path) == ([(0.5, 1.0, "car"), (1.0, 1.5, "fast")], "word")
    path.write_text("start,end,text\n0,2,the car is fast\n")
    assert read_transcript(path) == ([(0.0, 2.0, "the car is fast")], "turn")
