"""``nnlint review`` against a local server (127.0.0.1) that plays GitHub's REST endpoints and
checks every request it gets: the token, the headers, and that each comment is on a line the
pull request's diff shows (GitHub rejects a whole review otherwise)."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from nnlint import cli

TOKEN = "ghs_test-token-never-printed"
HEAD = "a" * 40
BOT = "github-actions[bot]"

OLD = """\
import torch.nn as nn

model = nn.Sequential(
    nn.Linear(784, 256),
    nn.ReLU(),
    nn.Dropout(0.9),
    nn.Linear(256, 10),
)
"""
# Line 8 adds a Dropout(0.9) (NN007), the same pitfall as the unchanged line 6.
NEW = OLD.replace("    nn.Linear(256, 10),\n", "    nn.Linear(256, 64),\n    nn.Dropout(0.9),\n    nn.Linear(64, 10),\n")
DIFF = """\
diff --git a/net.py b/net.py
index 1111111..2222222 100644
--- a/net.py
+++ b/net.py
@@ -4,5 +4,7 @@ model = nn.Sequential(
     nn.Linear(784, 256),
     nn.ReLU(),
     nn.Dropout(0.9),
-    nn.Linear(256, 10),
+    nn.Linear(256, 64),
+    nn.Dropout(0.9),
+    nn.Linear(64, 10),
 )
"""
#: The lines of net.py's new version the diff shows (context and added): where comments may go.
SHOWN = {"net.py": set(range(4, 11))}


class FakeGitHub:
    """Pull request #7 of o/r. ``writable`` False answers a write as GitHub does for a
    read-only token. Lists are served 2 items a page, with a ``Link`` header, to exercise
    pagination."""

    def __init__(self, diff: str = DIFF, shown: dict = SHOWN, writable: bool = True) -> None:
        self.diff, self.shown, self.writable = diff, shown, writable
        self.comments: list[dict] = []
        self.reviews: list[dict] = []
        self.requests: list[tuple[str, str]] = []
        self.problems: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                fake.handle(self, "GET")

            def do_POST(self):
                fake.handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v3"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(request.path)
        path = parts.path.removeprefix("/api/v3")
        self.requests.append((method, path))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.problems.append(f"{method} {path}: wrong Authorization header")
        if request.headers.get("X-GitHub-Api-Version") != "2022-11-28":
            self.problems.append(f"{method} {path}: no API version header")
        body = json.loads(request.rfile.read(int(request.headers.get("Content-Length") or 0)) or b"null")
        base = "/repos/o/r/pulls/7"
        if method == "GET" and path == base:
            if request.headers.get("Accept") == "application/vnd.github.diff":
                return self.reply(request, 200, self.diff.encode(), "text/plain")
            return self.reply(request, 200, {"number": 7, "head": {"sha": HEAD}})
        if method == "GET" and path in (f"{base}/comments", f"{base}/reviews"):
            items = self.comments if path.endswith("comments") else self.reviews
            query = parse_qs(parts.query)
            if query.get("per_page") != ["100"]:
                self.problems.append(f"GET {path}: not 100 a page")
            page = int(query.get("page", ["1"])[0])
            link = {}
            if len(items) > page * 2:
                link = {"Link": f'<{self.url}{path}?per_page=100&page={page + 1}>; rel="next"'}
            return self.reply(request, 200, items[(page - 1) * 2:page * 2], headers=link)
        if method == "POST" and path in (f"{base}/reviews", f"{base}/comments"):
            if not self.writable:
                return self.reply(request, 403, {"message": "Resource not accessible by integration"})
            self.check_post(path, body)
            item = {"id": len(self.comments) + len(self.reviews) + 1, "user": {"login": BOT}, "body": body.get("body")}
            if path.endswith("reviews"):
                self.reviews.append(dict(item, comments=body.get("comments", [])))
                self.comments.extend({"user": {"login": BOT}, **c} for c in body.get("comments", []))
            else:
                self.comments.append(dict(item, path=body.get("path"), subject_type=body.get("subject_type")))
            return self.reply(request, 200, item)
        self.problems.append(f"unexpected request {method} {path}")
        return self.reply(request, 404, {"message": "Not Found"})

    def check_post(self, path: str, body: dict) -> None:
        if body.get("commit_id") != HEAD:
            self.problems.append(f"POST {path}: commit_id is not the head")
        if path.endswith("reviews"):
            if body.get("event") != "COMMENT":
                self.problems.append("review: not a COMMENT review")
            for comment in body.get("comments", []):
                if comment.get("side") != "RIGHT" or comment.get("line") not in self.shown.get(comment.get("path"), ()):
                    self.problems.append(f"review comment outside the diff: {comment.get('path')}:{comment.get('line')}")
        elif body.get("subject_type") != "file" or "line" in body:
            self.problems.append("a lone comment must be file-level")

    @staticmethod
    def reply(request, status: int, payload, content_type: str = "application/json", headers: dict = {}) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            request.send_header(key, value)
        request.end_headers()
        request.wfile.write(data)


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "net.py").write_text(NEW)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_REPOSITORY", "o/r")
    for name in ("GITHUB_EVENT_PATH", "GITHUB_API_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def github():
    servers = []

    def start(**kwargs) -> FakeGitHub:
        servers.append(FakeGitHub(**kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def review(capsys, gh: FakeGitHub, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["review", "--pr", "7", "--api-url", gh.url, *argv])
    out = capsys.readouterr()
    assert TOKEN not in out.out + out.err
    assert gh.problems == []
    return code, out.out, out.err


def marks(text: str) -> list[str]:
    return re.findall(r"<!-- nnlint:fingerprint=([0-9a-f]{32}:\d+) -->", text)


def test_added_line_is_commented_and_unchanged_line_is_not(project, github, capsys):
    gh = github()
    code, out, err = review(capsys, gh)
    assert code == 1  # a warning, as the lint would exit
    [posted] = gh.reviews
    assert [(c["path"], c["line"]) for c in posted["comments"]] == [("net.py", 8)]
    body = posted["comments"][0]["body"]
    assert "NN007" in body and "drops 90%" in body and "**Hint:**" in body and len(marks(body)) == 1
    assert "1 line comment" in err
    assert "net.py:8" in out and "net.py:6" not in out  # the run's report is kept to the change too


def test_rerun_posts_nothing_twice(project, github, capsys):
    gh = github()
    review(capsys, gh)
    code, _, err = review(capsys, gh)
    assert len(gh.reviews) == 1 and "all posted before" in err
    # a new push adds a finding: only that one is posted
    (project / "net.py").write_text(NEW.replace("    nn.Linear(64, 10),\n", "    nn.Dropout(0.95),\n    nn.Linear(64, 10),\n"))
    gh.diff = DIFF.replace("@@ -4,5 +4,7 @@", "@@ -4,5 +4,8 @@").replace("+    nn.Linear(64, 10),\n",
                                                                         "+    nn.Dropout(0.95),\n+    nn.Linear(64, 10),\n")
    gh.shown = {"net.py": set(range(4, 12))}
    review(capsys, gh)
    assert [[c["line"] for c in r["comments"]] for r in gh.reviews] == [[8], [9]]


def test_marks_by_someone_else_do_not_hide_a_finding(project, github, capsys):
    gh = github()
    review(capsys, gh)
    forged = gh.comments[0]["body"]
    gh.comments, gh.reviews = [{"user": {"login": "mallory"}, "body": forged}], []
    review(capsys, gh)
    assert len(gh.reviews) == 1 and [c["line"] for c in gh.reviews[0]["comments"]] == [8]


def test_findings_over_the_cap_are_listed_in_the_body(project, github, capsys):
    (project / "net.py").write_text("import torch.nn as nn\n\nmodel = nn.Sequential(\n"
                                    + "    nn.Linear(8, 8),\n    nn.Dropout(0.9),\n" * 5 + ")\n")
    diff = "--- /dev/null\n+++ b/net.py\n@@ -0,0 +1,14 @@\n" + "".join(
        f"+{line}\n" for line in (project / "net.py").read_text().splitlines())
    gh = github(diff=diff, shown={"net.py": set(range(1, 15))})
    review(capsys, gh, "--max-comments", "2")
    [posted] = gh.reviews
    assert [c["line"] for c in posted["comments"]] == [5, 7]
    assert "5 new findings" in posted["body"] and "2 commented below, 3 listed here" in posted["body"]
    assert len(marks(posted["body"])) == 3
    assert set(marks(posted["body"])).isdisjoint(marks(" ".join(c["body"] for c in posted["comments"])))
    review(capsys, gh, "--max-comments", "2")  # what the body listed is not posted again either
    assert len(gh.reviews) == 1


def test_onnx_finding_is_a_file_level_comment(project, github, capsys):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    model = helper.make_model(helper.make_graph(
        [helper.make_node("Dropout", ["x"], ["y"], ratio=0.9, name="drop<@team>")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])]), opset_imports=[helper.make_opsetid("", 11)])
    onnx.save(model, str(project / "model.onnx"))
    diff = ("diff --git a/model.onnx b/model.onnx\nnew file mode 100644\nindex 0000000..1111111\n"
            "Binary files /dev/null and b/model.onnx differ\n")
    gh = github(diff=diff, shown={})
    review(capsys, gh)
    [posted] = gh.reviews
    assert posted["comments"] == []
    files = [c for c in gh.comments if c.get("subject_type") == "file"]
    assert [c["path"] for c in files] and {c["path"] for c in files} == {"model.onnx"}
    assert any("NN007" in c["body"] for c in files)
    body = next(c["body"] for c in files if "NN007" in c["body"])
    assert "drop\\<\\@team\\>" in body and "<@team>" not in body  # the node's name cannot mention or carry HTML


def test_read_only_token_falls_back_to_annotations(project, github, capsys):
    gh = github(writable=False)
    code, out, err = review(capsys, gh)
    assert gh.reviews == [] and code == 1
    annotations = [line for line in out.splitlines() if line.startswith("::")]
    assert annotations == [a for a in annotations if "file=net.py,line=8" in a] and len(annotations) == 1
    assert "cannot post the review" in err and "annotations instead" in err


def test_pull_request_number_from_the_event_file(project, github, capsys, monkeypatch):
    gh = github()
    event = project / "event.json"
    event.write_text(json.dumps({"action": "synchronize", "pull_request": {"number": 7}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    monkeypatch.setenv("GITHUB_API_URL", gh.url)
    assert cli.main(["review"]) == 1
    assert len(gh.reviews) == 1 and gh.problems == []


@pytest.mark.parametrize("env, argv, message", [
    ({"GITHUB_TOKEN": None}, [], "no token"),
    ({"GITHUB_REPOSITORY": "not a repo"}, [], "is not OWNER/NAME"),
    ({}, ["--max-comments", "-1"], "--max-comments must be 0 or more"),
])
def test_bad_context_is_one_error_line(project, github, capsys, monkeypatch, env, argv, message):
    gh = github()
    for key, value in env.items():
        monkeypatch.delenv(key) if value is None else monkeypatch.setenv(key, value)
    assert cli.main(["review", "--pr", "7", "--api-url", gh.url, *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and TOKEN not in err


def test_unknown_pull_request_and_no_server_are_one_error_line(project, github, capsys):
    gh = github()
    assert cli.main(["review", "--pr", "8", "--api-url", gh.url]) == 2
    err = capsys.readouterr().err
    assert "cannot read pull request #8 of o/r" in err and "HTTP 404" in err and len(err.strip().splitlines()) == 1
    gh.close()
    assert cli.main(["review", "--pr", "7", "--api-url", gh.url]) == 2
    err = capsys.readouterr().err
    assert "no answer" in err and TOKEN not in err


def test_redirects_are_not_followed(project, capsys):
    """A redirect could carry the token elsewhere: it is an error instead."""
    class Redirect(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(301)
            self.send_header("Location", "http://127.0.0.2:9/steal")
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert cli.main(["review", "--pr", "7", "--api-url", f"http://127.0.0.1:{server.server_address[1]}"]) == 2
    finally:
        server.shutdown()
        server.server_close()
    assert "HTTP 301" in capsys.readouterr().err


def test_clean_change_posts_nothing(project, github, capsys):
    (project / "net.py").write_text(NEW.replace("nn.Dropout(0.9),\n    nn.Linear(64", "nn.Dropout(0.1),\n    nn.Linear(64"))
    gh = github()
    code, out, err = review(capsys, gh)
    assert code == 0 and gh.reviews == [] and gh.comments == []
    assert "no finding on the changed lines" in err
    assert [m for m, _ in gh.requests if m == "POST"] == []
