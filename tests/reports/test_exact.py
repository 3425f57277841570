"""The column-at-a-time writers (findings.json, findings.csv, junit.xml) write exactly the bytes of the plain
per-cell code they replaced, which is spelled out here as the reference, for hostile frames: quotes, commas, CR/LF,
NUL and other controls, bidi overrides, formula prefixes, non-ASCII, '%' (the JSON row template), missing and
non-str cells, several chunks and blocks. Also: write_reports' chains may be a callable, called only where
report.html is written."""
from __future__ import annotations

import csv
import io
import json
import math
import os
import xml.etree.ElementTree as ET
from unittest import mock

import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.reports import junit, tabular, write_reports
from auditor.reports.junit import _s, xml_attr, xml_text

from .builders import make_chains, make_findings, make_meta

COLUMNS = ["finding_id", "rule_id", "title", "severity", "compliance_state", "subscription_id", "resource_group",
           "resource_type", "resource_id", "resource_name", "vault_id", "message", "remediation",
           "exemption_category", "exemption_justification"]
STATES = ["Compliant", "NonCompliant", "Exempt", "NotApplicable", "Error", "", "Odd&<state>"]
NASTY = ['"', ",", "\r", "\n", "\r\n", "\t", "\x00", "\x01", "\x1b", "\x7f", "\x85", "\x9f", "\u202e", "\u2066",
         "&", "<", ">", "'", "\\", "%", "%s", "=", "+", "-", "@", "-1.5", "+3e4", "=1+2", "\ufffe", "\uffff",
         "\u2028", "é", "日本", "\U0001f600", " ", "Remediation: "]


def _text(surrogates: bool) -> st.SearchStrategy[str]:
    chars = st.characters(blacklist_categories=() if surrogates else ("Cs",))
    piece = st.one_of(st.sampled_from(NASTY), st.text(chars, max_size=3), st.just("x" * 300))
    return st.lists(piece, max_size=5).map("".join)


@st.composite
def frames(draw, surrogates: bool = False, extra_names: bool = False) -> pd.DataFrame:
    n = draw(st.integers(0, 23))
    text = _text(surrogates)
    cell = st.one_of(text, text, text, st.none(), st.just(math.nan), st.integers(-3, 3))
    names = list(COLUMNS)
    if extra_names:
        names += draw(st.lists(st.sampled_from(['we"ird,%s', "%b%%", "ünï\u202e", "x\ny"]), unique=True))
        names = draw(st.permutations(names))
    data = {}
    for c in names:
        values = st.sampled_from(STATES) if c == "compliance_state" else text
        data[c] = draw(st.lists(st.one_of(values, cell) if draw(st.booleans()) else values, min_size=n, max_size=n))
    df = pd.DataFrame(data, columns=names, index=range(n), dtype=object)
    if draw(st.booleans()):  # the engine's frames: str dtype, NaN for missing
        df = df.astype("str")
    return df


def _cells(df: pd.DataFrame) -> list[list[str]]:
    """The frame's rows as the writers see them: str cells, '' for missing."""
    cols = [df[c].astype(object).where(df[c].notna(), "").astype(str).tolist() for c in df.columns]
    return [list(r) for r in zip(*cols)]


small_chunks = mock.patch.multiple(tabular, CHUNK=5, _BLOCK=2)
EXAMPLES = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                          HealthCheck.too_slow])


# ----------------------------------------------------------------------------------------------- findings.json

def _json_reference(df: pd.DataFrame, meta: dict) -> bytes:
    doc = {"generated_at": meta.get("generated_at"), "tool": meta.get("tool"), "inputs": meta.get("inputs", []),
           "subscriptions": meta.get("subscriptions", []), "summary": meta.get("summary"),
           "errors": meta.get("errors", [])}
    head = orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str)
    names = list(df.columns)
    rows = [orjson.dumps(dict(zip(names, row))) for row in _cells(df)]
    body = b"    " + b",\n    ".join(rows) if len(df) else b""
    return head[:-2] + b',\n  "findings": [\n' + body + b"\n  ]\n}\n"


@EXAMPLES
@given(frames(extra_names=True))
def test_json_is_the_per_row_orjson_encoding(tmp_path, df):
    meta = {"generated_at": "2025-01-01T00:00:00Z", "tool": {"name": "auditor"}}
    with small_chunks:
        tabular.write_json(tmp_path / "f.json", df, meta)
    data = (tmp_path / "f.json").read_bytes()
    assert data == _json_reference(df, meta)
    assert json.loads(data)["findings"] == [dict(zip(df.columns, r)) for r in _cells(df)]


@given(st.lists(_text(False), min_size=1, max_size=30))
@settings(max_examples=300, deadline=None)
def test_json_column_encodings(values):
    encoded, plain = tabular._json_column(values)
    expected = [orjson.dumps(v).decode() for v in values]
    assert (['"' + v + '"' for v in encoded] if plain else encoded) == expected


def test_json_lone_surrogate_fails_as_orjson_does(tmp_path):
    df = make_findings()  # its "surrogate" string is a lone surrogate: not valid UTF-8
    with pytest.raises(orjson.JSONEncodeError):
        tabular.write_json(tmp_path / "f.json", df, make_meta(df))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("names", [[0, "a"], ["a", "b"]])
def test_json_odd_names_and_no_rows(tmp_path, names):
    df = pd.DataFrame({n: ["v"] * 3 for n in names})
    try:
        expected = _json_reference(df, {})
    except TypeError:  # a non-str key: orjson refuses it, and so does the writer
        with pytest.raises(TypeError):
            tabular.write_json(tmp_path / "f.json", df, {})
        return
    tabular.write_json(tmp_path / "f.json", df, {})
    assert (tmp_path / "f.json").read_bytes() == expected
    tabular.write_json(tmp_path / "e.json", df.iloc[0:0], {})
    assert (tmp_path / "e.json").read_bytes() == _json_reference(df.iloc[0:0], {})
    assert json.loads((tmp_path / "e.json").read_bytes())["findings"] == []


# ----------------------------------------------------------------------------------------------- findings.csv

def _csv_quote(v: str) -> str:
    return '"' + v.replace('"', '""') + '"' if ("," in v or '"' in v or "\n" in v or "\r" in v) else v


def _csv_reference(df: pd.DataFrame) -> tuple[str, list[list[str]]]:
    names = list(df.columns)
    rows = [[v if name in tabular._OWN else tabular.neutralise(v) for name, v in zip(names, row)]
            for row in _cells(df)]
    text = ",".join(map(_csv_quote, names)) + "\r\n" + "".join(",".join(map(_csv_quote, r)) + "\r\n" for r in rows)
    return text, rows


@EXAMPLES
@given(frames(extra_names=True))
def test_csv_is_the_per_cell_code_and_parses_back(tmp_path, df):
    with small_chunks:
        tabular.write_csv(tmp_path / "f.csv", df, {})
    data = (tmp_path / "f.csv").read_bytes()
    text, rows = _csv_reference(df)
    assert data == text.encode("utf-8")
    parsed = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert parsed == [list(df.columns)] + rows
    for row in rows:  # nothing a spreadsheet would run, no control or bidi character
        for name, v in zip(df.columns, row):
            if name not in tabular._OWN:
                assert not tabular._CONTROL.search(v)
                assert not v.startswith(tabular._FORMULA_START) or tabular._NUMBER.match(v)


@given(st.lists(_text(True), min_size=1, max_size=30), st.booleans())
@settings(max_examples=300, deadline=None)
def test_csv_column_cells(values, own):
    expected = [_csv_quote(v if own else tabular.neutralise(v)) for v in values]
    assert tabular._csv_cells(values, own) == expected


# ----------------------------------------------------------------------------------------------- junit.xml

def _reference_cases(cols, idx):
    """The per-cell code the column-at-a-time case writer replaced."""
    rule, state, res, name = cols["rule_id"], cols["compliance_state"], cols["resource_id"], cols["resource_name"]
    msg, rem, sev = cols["message"], cols["remediation"], cols["severity"]
    cat, just = cols["exemption_category"], cols["exemption_justification"]
    for i in idx:
        st_ = _s(state[i])
        head = (f'    <testcase classname="{xml_attr(rule[i])}" '
                f'name="{xml_attr(_s(res[i]) or _s(name[i]))}" time="0"')
        if st_ == "Compliant":
            yield head + "/>\n"
        elif st_ == "NonCompliant":
            m, r = _s(msg[i]), _s(rem[i])
            body = m + ("\n\nRemediation: " + r if r else "")
            yield (f'{head}>\n      <failure message="{xml_attr(m)}" type="{xml_attr(sev[i]) or "NonCompliant"}">'
                   f"{xml_text(body)}</failure>\n    </testcase>\n")
        elif st_ == "Exempt":
            c, j = _s(cat[i]), _s(just[i])
            m = f"Exempt ({c or 'no category'})" + (f": {j}" if j else "")
            yield (f'{head}>\n      <skipped message="{xml_attr(m)}">{xml_text(msg[i])}</skipped>\n'
                   f"    </testcase>\n")
        elif st_ == "NotApplicable":
            m = _s(msg[i])
            yield (f'{head}>\n      <skipped message="{xml_attr("NotApplicable" + (": " + m if m else ""))}"/>\n'
                   f"    </testcase>\n")
        else:
            m = _s(msg[i]) or f"state {st_ or 'missing'}"
            yield (f'{head}>\n      <error message="{xml_attr(m)}" type="{xml_attr(st_ or "Error")}">'
                   f"{xml_text(m)}</error>\n    </testcase>\n")


@EXAMPLES
@given(frames(surrogates=True))
def test_junit_cases_are_the_per_cell_code(tmp_path, df):
    cols = {c: junit._column(df, c) for c in junit._COLUMNS}
    idx = list(range(len(df)))
    with mock.patch.object(junit, "_BLOCK", 2):
        got = "".join(junit._cases(junit._Columns(cols), idx))
    assert got == "".join(_reference_cases(cols, idx))

    junit.write_junit(tmp_path / "j.xml", df, {"generated_at": "now", "tool": {"name": "a&b", "version": '"1"'}})
    root = ET.parse(tmp_path / "j.xml").getroot()  # well-formed whatever the input
    assert int(root.get("tests")) == len(df) == len(root.findall("./testsuite/testcase"))
    for tc in root.iter("testcase"):  # attribute values survive parsing exactly, minus invalid characters
        assert tc.get("classname") in {_s(v) for v in cols["rule_id"]}
    failures = root.findall("./testsuite/testcase/failure")
    expected = [_s(m) + ("\n\nRemediation: " + _s(r) if _s(r) else "")
                for s, m, r in zip(cols["compliance_state"], cols["message"], cols["remediation"])
                if _s(s) == "NonCompliant"]
    def eol(t: str) -> str:  # an XML parser reads CR LF and a lone CR in text as LF
        return t.replace("\r\n", "\n").replace("\r", "\n")
    assert sorted((f.text or "") for f in failures) == sorted(map(eol, expected))


@given(st.lists(st.one_of(_text(True), st.none(), st.just(math.nan), st.integers()), max_size=30))
@settings(max_examples=300, deadline=None)
def test_junit_column_helpers(values):
    with mock.patch.object(junit, "_BLOCK", 3):
        texts = junit._texts(values)
        assert texts == [_s(v) for v in values]
        assert junit._escaped(texts, True) == [xml_attr(t) for t in texts]
        assert junit._escaped(texts, False) == [xml_text(t) for t in texts]


# ----------------------------------------------------------------------------------------------- chains

# (formats without findings.json/csv: the hostile frame holds a lone surrogate, which those two refuse)

@pytest.mark.parametrize("parallel", [False, True])
def test_chains_may_be_a_callable(tmp_path, findings, meta, parallel):
    if parallel and not hasattr(os, "fork"):
        pytest.skip("no fork")
    chains = make_chains()
    write_reports(tmp_path / "list", ["html"], findings, meta, chains, parallel=False)
    calls = []

    def lazy():
        calls.append(os.getpid())
        return chains

    write_reports(tmp_path / "lazy", ["junit", "html"], findings, meta, lazy, parallel=parallel)
    assert (tmp_path / "lazy" / "report.html").read_bytes() == (tmp_path / "list" / "report.html").read_bytes()
    assert calls == [os.getpid()]  # once, in this process: html is the costliest writer, it stays here

    calls.clear()
    write_reports(tmp_path / "none", ["junit"], findings, meta, lazy, parallel=parallel)
    assert calls == []


def test_chains_callable_runs_in_the_child_when_html_is_written_there(tmp_path, findings, meta):
    if not hasattr(os, "fork"):
        pytest.skip("no fork")
    calls = []

    def lazy():
        calls.append(os.getpid())
        return make_chains()

    from dataclasses import replace
    from auditor.reports import WRITERS
    costs = {"html": replace(WRITERS["html"], cost=1), "junit": replace(WRITERS["junit"], cost=50)}
    with mock.patch.dict("auditor.reports.WRITERS", costs):  # junit here, html in the child
        write_reports(tmp_path, ["junit", "html"], findings, meta, lazy, parallel=True)
    assert calls == []  # the parent never computed them
    assert b"vault-ok" in (tmp_path / "report.html").read_bytes()
