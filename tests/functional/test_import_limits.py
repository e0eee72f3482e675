"""Import limits through the pages (issue 13 §5): every refusal is a 413/422 naming the limit, and
nothing from the file is stored."""

from __future__ import annotations

import io

from werkzeug.datastructures import FileStorage
from werkzeug.test import stream_encode_multipart

from lti_tool.directory.models import Person
from tests.functional.directory.test_pages import QC_USER, count, csrf_of, roster, text_of, upload
from tests.support.launch import LaunchResult
from tests.unit.test_tabular import _bomb


def upload_large(client, result: LaunchResult, path: str, filename: str, data: bytes):  # type: ignore[no-untyped-def]
    """``upload`` for bodies over 500 KB, which werkzeug's test client would spool to a temporary file that
    it leaves open: the multipart body is encoded in memory here."""
    csrf = csrf_of(result.get(client, "/home").get_data(as_text=True))
    body, length, boundary = stream_encode_multipart(
        {"csrf": csrf, "file": FileStorage(io.BytesIO(data), filename)}, use_tempfile=False
    )
    return client.post(
        f"{path}?s={result.token}",
        input_stream=body,
        content_length=length,
        content_type=f'multipart/form-data; boundary="{boundary}"',
    )


def test_a_200_kb_field_is_a_422_naming_the_limit(session_factory, institution_id, launcher, client) -> None:
    roster(session_factory, institution_id)
    qc = launcher.launch(QC_USER)
    data = ("工号,姓名,邮箱\n5001,甲,a@jti.edu.cn\n5002," + "乙" * 70_000 + ",b@jti.edu.cn\n").encode()
    assert len(data) > 200_000
    assert len(data) > 200_000
    response = upload(client, qc, "/directory/people/import", "people.csv", data)
    assert response.status_code == 422, text_of(response)
    body = text_of(response)
    assert "第 3 行" in body and "20000" in body
    assert count(session_factory, Person, institution_id) == 3


def test_an_xlsx_bomb_is_a_413_naming_the_limit(session_factory, institution_id, launcher, client) -> None:
    roster(session_factory, institution_id)
    qc = launcher.launch(QC_USER)
    response = upload_large(client, qc, "/directory/units/import", "units.xlsx", _bomb(200))
    assert response.status_code == 413, text_of(response)
    assert "100 倍" in text_of(response)
