from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragline.errors import LoaderError
from ragline.loaders.jsonl import JsonLoader
from ragline.settings import LoaderSettings
from ragline.types import stable_id

_BEIR: list[dict[str, object]] = [
    {
        "_id": "doc1",
        "title": "Aspirin",
        "text": "Aspirin  reduces\tfever.",
        "metadata": {"url": "http://a", "year": 2001},
    },
    {"_id": 42, "title": "", "text": "Numeric id document.", "metadata": {}},
    {
        "_id": "doc3",
        "title": "Nested",
        "text": "Deep metadata.",
        "lang": "en",
        "score": 0.5,
        "metadata": {"source": {"name": "pubmed", "ids": [1, 2]}, "bad key!": True, "none": None},
    },
]


def _write_jsonl(path: Path, objects: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(o) for o in objects) + "\n", encoding="utf-8")
    return path


def test_beir_corpus_shape(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "corpus.jsonl", _BEIR)
    docs = JsonLoader(LoaderSettings()).load(path)
    assert [d.id for d in docs] == ["doc1", "42", "doc3"]
    assert [d.title for d in docs] == ["Aspirin", "", "Nested"]
    assert docs[0].text == "Aspirin reduces fever."
    assert docs[0].source == str(path.resolve())
    assert docs[0].metadata == {
        "url": "http://a",
        "year": 2001,
        "file_name": "corpus.jsonl",
        "file_type": "jsonl",
    }
    assert docs[2].metadata == {
        "lang": "en",
        "score": 0.5,
        "source_name": "pubmed",
        "bad_key_": True,
        "file_name": "corpus.jsonl",
        "file_type": "jsonl",
    }


def test_ids_fall_back_to_line_numbers_and_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "notes.ndjson"
    path.write_text(
        '{"text": "first"}\n\n   \n{"content": "second", "title": "T"}\r\n{"text": ""}\n{"body": "x"}'
    )
    docs = JsonLoader(LoaderSettings()).load(path)
    source = str(path.resolve())
    assert [d.id for d in docs] == [
        stable_id(source, "line:1"),
        stable_id(source, "line:4"),
        stable_id(source, "line:6"),
    ]
    assert [d.text for d in docs] == ["first", "second", "x"]
    assert docs[1].title == "T"
    assert docs[0].metadata == {"file_name": "notes.ndjson", "file_type": "ndjson"}
    assert [d.id for d in JsonLoader(LoaderSettings()).load(path)] == [d.id for d in docs]


def test_malformed_line_names_the_line_number(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n\n{"text": "broken"\n{"text": "never read"}\n')
    with pytest.raises(LoaderError, match=r"line 3: invalid JSON") as info:
        JsonLoader(LoaderSettings()).load(path)
    assert info.value.path == str(path)


def test_missing_text_field_lists_fields_looked_for(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "x.jsonl", [{"text": "fine"}, {"question": "where?", "answer": "here"}])
    with pytest.raises(LoaderError) as info:
        JsonLoader(LoaderSettings()).load(path)
    reason = info.value.reason
    assert "line 2" in reason
    assert "text, content, body" in reason
    assert "loaders.json_text_fields" in reason
    assert "answer, question" in reason


def test_non_object_line_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"text": "a"}\n[1, 2]\n')
    with pytest.raises(LoaderError, match="line 2: expected a JSON object, got an array"):
        JsonLoader(LoaderSettings()).load(path)


def test_json_list_uses_item_locators_and_configured_fields(tmp_path: Path) -> None:
    path = tmp_path / "faq.json"
    path.write_text(
        json.dumps(
            [
                {"question": "How?", "answer": "Like this.", "cat": "a", "n": 1, "meta": {"x": 1}},
                {"question": "Empty", "answer": "   ", "cat": "b"},
                {"question": "Why?", "answer": ["Because", "reasons."], "metadata": {"cat": "nested"}},
            ]
        )
    )
    settings = LoaderSettings(
        json_text_fields=("answer",),
        json_title_field="question",
        json_id_field=None,
        json_metadata_fields=("cat", "meta"),
    )
    docs = JsonLoader(settings).load(path)
    source = str(path.resolve())
    assert [d.id for d in docs] == [stable_id(source, "item:1"), stable_id(source, "item:3")]
    assert [d.text for d in docs] == ["Like this.", "Because\nreasons."]
    assert [d.title for d in docs] == ["How?", "Why?"]
    assert docs[0].metadata == {"cat": "a", "meta_x": 1, "file_name": "faq.json", "file_type": "json"}
    # A configured field missing at the top level is looked up in the nested "metadata" object.
    assert docs[1].metadata == {"cat": "nested", "file_name": "faq.json", "file_type": "json"}


def test_json_single_object_and_json_lines_saved_as_json(tmp_path: Path) -> None:
    single = tmp_path / "one.json"
    single.write_text('{"_id": "only", "text": "Just one."}')
    [doc] = JsonLoader(LoaderSettings()).load(single)
    assert (doc.id, doc.text) == ("only", "Just one.")
    lines = tmp_path / "lines.json"
    lines.write_text('{"text": "a"}\n{"text": "b"}\n')
    assert [d.text for d in JsonLoader(LoaderSettings()).load(lines)] == ["a", "b"]


def test_invalid_json_and_wrong_top_level_type(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('[{"text": "a"},\n {"text": }]')
    with pytest.raises(LoaderError, match="invalid JSON at line 2"):
        JsonLoader(LoaderSettings()).load(bad)
    scalar = tmp_path / "scalar.json"
    scalar.write_text('"just a string"')
    with pytest.raises(LoaderError, match="expected a JSON object or an array of objects, got a string"):
        JsonLoader(LoaderSettings()).load(scalar)


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.jsonl"
    path.write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    with pytest.raises(LoaderError, match="line 2: not valid UTF-8"):
        JsonLoader(LoaderSettings()).load(path)


def test_unicode_line_separator_inside_a_string_does_not_split_lines(tmp_path: Path) -> None:
    path = tmp_path / "u.jsonl"
    path.write_text(json.dumps({"text": "one\u2028two"}, ensure_ascii=False) + "\n", encoding="utf-8")
    [doc] = JsonLoader(LoaderSettings()).load(path)
    assert doc.text == "one\ntwo"


def test_large_jsonl_loads_every_line(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for i in range(50_000):
            obj = {"_id": f"d{i}", "title": f"T {i}", "text": f"Body text {i}. " * 20, "metadata": {"n": i}}
            fh.write(json.dumps(obj) + "\n")
    docs = JsonLoader(LoaderSettings()).load(path)
    assert len(docs) == 50_000
    assert docs[-1].id == "d49999" and docs[-1].metadata["n"] == 49_999
