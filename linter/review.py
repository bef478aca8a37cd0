"""``nnlint review``: one pull-request review of the findings the pull request brings.

The lint is the usual one, kept to the lines the pull request adds (:mod:`nnlint.changes`,
from the pull request's diff as GitHub serves it, or ``--diff``/``--diff-base``). Then:

- Each finding gets a comment on its line, which the diff always shows (GitHub rejects a
  whole review with one comment outside the diff); a notebook's on the JSON line of its cell's
  source line. A finding without a line (an ONNX graph's) gets a file-level comment.
- The most severe findings are commented, up to ``--max-comments``; the rest are listed in
  the review's body.
- Every comment, and every finding listed in a body, carries its stable fingerprint (the
  SARIF one) in a hidden HTML comment. A rerun reads the comments and reviews already on the
  pull request and skips the findings they carry, so a new push repeats nothing. Only the
  marks written by the reviewing account (``--comment-author``) count: anyone else could
  write one to hide a finding.
- A token that may not write (a pull request from a fork gets a read-only one) cannot post:
  the findings are then written as GitHub annotations on standard output instead.

Text that comes from the linted files (an ONNX node's name, say) is escaped, so a comment
cannot mention people, link issues or carry HTML.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from typing import Optional

from nnlint.changes import Changes, relative
from nnlint.config import ConfigError
from nnlint.github_api import GitHub, GitHubError
from nnlint.report.placed import placed

DEFAULT_API_URL = "https://api.github.com"
#: Who posts the review when the workflow's own token does (``GITHUB_TOKEN``).
DEFAULT_AUTHOR = "github-actions[bot]"
DEFAULT_MAX_COMMENTS = 20
MAX_EVENT_BYTES = 10_000_000
_MARK = "<!-- nnlint:fingerprint={} -->"
_MARKS = re.compile(r"<!-- nnlint:fingerprint=([0-9a-f]{32}:[0-9]+) -->")
_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-!|~@&])")
_ORDER = {"error": 0, "warning": 1, "info": 2}


def add_options(parser) -> None:
    group = parser.add_argument_group(
        "review", "the pull request and the account that reviews it (defaults: what GitHub Actions sets)")
    group.add_argument("--repo", metavar="OWNER/NAME", help="the repository (default: $GITHUB_REPOSITORY)")
    group.add_argument("--pr", type=int, metavar="N",
                       help="the pull request's number (default: the one in $GITHUB_EVENT_PATH's event)")
    group.add_argument("--api-url", metavar="URL",
                       help=f"GitHub's REST API (default: $GITHUB_API_URL, else {DEFAULT_API_URL})")
    group.add_argument("--token", metavar="TOKEN",
                       help="the token to post with (default: $GITHUB_TOKEN; prefer the variable: a command "
                            "line can be read by other processes)")
    group.add_argument("--max-comments", type=int, default=DEFAULT_MAX_COMMENTS, metavar="N",
                       help=f"inline comments at most; the other findings are listed in the review's body "
                            f"(default: {DEFAULT_MAX_COMMENTS})")
    group.add_argument("--comment-author", metavar="LOGIN", default=DEFAULT_AUTHOR,
                       help="the account the token posts as, whose earlier comments a rerun skips "
                            f"(default: {DEFAULT_AUTHOR}, the workflow's token)")


@dataclass
class PullRequest:
    github: GitHub
    repo: str
    number: int
    head: str  # the head commit's SHA: the review is on it

    def changes(self) -> Changes:
        """The pull request's diff, as GitHub shows it."""
        from nnlint import changes

        try:
            diff = self.github.get(f"repos/{self.repo}/pulls/{self.number}", accept="application/vnd.github.diff")
        except GitHubError as exc:
            raise ConfigError(f"review: cannot read the pull request's diff: {exc}") from None
        return changes.parse(diff.decode("utf-8", "surrogateescape"))


def pull_request(args) -> PullRequest:
    """The pull request to review, from the flags or the environment GitHub Actions sets."""
    if args.max_comments < 0:
        raise ConfigError("--max-comments must be 0 or more")
    token = args.token or os.environ.get("GITHUB_TOKEN")
    if not token:
        raise ConfigError("review: no token: set GITHUB_TOKEN (or give --token)")
    repo = args.repo or os.environ.get("GITHUB_REPOSITORY")
    if not repo or not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repo):
        raise ConfigError(f"review: {'no repository' if not repo else f'{repo!r} is not OWNER/NAME'}: "
                          "give --repo OWNER/NAME (or set GITHUB_REPOSITORY)")
    number = args.pr if args.pr is not None else _event_number()
    try:
        github = GitHub(args.api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL, token)
        pull = github.get_json(f"repos/{repo}/pulls/{number}")
    except GitHubError as exc:
        raise ConfigError(f"review: cannot read pull request #{number} of {repo}: {exc}") from None
    head = pull.get("head", {}).get("sha") if isinstance(pull, dict) and isinstance(pull.get("head"), dict) else None
    if not isinstance(head, str) or not re.fullmatch(r"[0-9a-f]{40}", head):
        raise ConfigError(f"review: pull request #{number} of {repo}: the answer names no head commit")
    return PullRequest(github, repo, number, head)


def _event_number() -> int:
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path:
        raise ConfigError("review: which pull request? give --pr N (or run it on a pull_request event)")
    try:
        with open(path, "rb") as stream:
            event = json.loads(stream.read(MAX_EVENT_BYTES))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"review: cannot read the event file $GITHUB_EVENT_PATH ({exc})") from None
    pull = event.get("pull_request") if isinstance(event, dict) else None
    number = pull.get("number") if isinstance(pull, dict) else None
    if not isinstance(number, int):
        raise ConfigError("review: the event is not a pull request's: give --pr N")
    return number


def post(result, changes: Changes, pull: PullRequest, args) -> None:
    """Post the review of ``result``'s findings (already kept to the change). Errors and
    notes go to ``result``; when the review cannot be posted, the findings are written as
    annotations on standard output (unless the run's report is those annotations)."""
    github_report = args.format == "github" and args.output_file is None
    from nnlint.report.sarif import fingerprints

    _check_out(pull.head, result)
    marks = dict(zip(fingerprints(result.findings), result.findings))
    try:
        posted = _posted(pull, args.comment_author)
    except GitHubError as exc:
        if exc.status in (401, 403, 404):
            return _annotate(result, github_report, f"cannot read the pull request's comments ({exc})")
        result.errors.append(f"review: {exc}")
        return
    new = sorted(((m, f) for m, f in marks.items() if m not in posted),
                 key=lambda item: (_ORDER[item[1].severity.value], item[1].sort_key()))
    if not new:
        _say(args, f"nothing to post on #{pull.number}: " + (f"{_count(len(marks), 'finding')} on the changed lines, "
                   "all posted before" if marks else "no finding on the changed lines"))
        return
    inline = [(m, f) for m, f in new[:args.max_comments] if changes.file_line(f) is not None]
    files_level = [(m, f) for m, f in new[:args.max_comments] if changes.file_line(f) is None]
    listed = new[args.max_comments:]
    review = {"commit_id": pull.head, "event": "COMMENT", "body": _body(len(new), len(inline) + len(files_level), listed),
              "comments": [{"path": _path(f), "line": changes.file_line(f), "side": "RIGHT", "body": _comment(m, f)}
                           for m, f in inline]}
    try:
        pull.github.post_json(f"repos/{pull.repo}/pulls/{pull.number}/reviews", review)
        for mark, finding in files_level:
            pull.github.post_json(f"repos/{pull.repo}/pulls/{pull.number}/comments", {
                "commit_id": pull.head, "path": _path(finding), "subject_type": "file",
                "body": _comment(mark, finding)})
    except GitHubError as exc:
        if exc.status in (403, 404):  # a read-only token: a pull request from a fork
            return _annotate(result, github_report, f"cannot post the review ({exc})")
        result.errors.append(f"review: {exc}")
        return _annotate(result, github_report, None)
    _say(args, f"posted a review on #{pull.number}: {_count(len(inline), 'line comment')}, "
               f"{_count(len(files_level), 'file comment')}, {_count(len(listed), 'finding')} listed in its body")


def _say(args, text: str) -> None:
    if not args.quiet:
        print(f"nnlint review: {text}", file=sys.stderr)


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'s' if n != 1 else ''}"


def _posted(pull: PullRequest, author: str) -> set[str]:
    """The fingerprints the reviewing account already posted on the pull request."""
    marks: set[str] = set()
    for kind in ("comments", "reviews"):
        for item in pull.github.get_all(f"repos/{pull.repo}/pulls/{pull.number}/{kind}"):
            user = item.get("user") if isinstance(item, dict) else None
            if isinstance(user, dict) and user.get("login") == author and isinstance(item.get("body"), str):
                marks.update(_MARKS.findall(item["body"]))
    return marks


def _annotate(result, github_report: bool, why: Optional[str]) -> None:
    """The findings as GitHub annotations, for a run whose review could not be posted."""
    from nnlint.report.github import annotation

    if why is not None:
        result.notes.append(f"review: {why}: the findings are shown as annotations instead")
    if not github_report:  # else the report itself is the annotations
        for finding in result.findings:
            sys.stdout.write(annotation(finding) + "\n")


def _check_out(head: str, result) -> None:
    """A note when the files linted are not the pull request's head: the lines may not match."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return
    here = done.stdout.decode("ascii", "replace").strip()
    if done.returncode == 0 and here and here != head:
        result.notes.append(f"review: the checkout is {here[:12]}, the pull request's head {head[:12]}: comments may "
                            "land on the wrong lines (check out the head commit)")


def _comment(mark: str, finding) -> str:
    from nnlint.report import rules

    parts = [f"**{finding.code}** `{finding.name}` ({finding.severity.value}): {_escape(placed(finding))}"]
    hint = rules.hint(finding.code)
    if hint:
        parts.append(f"**Hint:** {_escape(hint)}")
    if finding.trace is not None:
        parts.append(f"**Trace:** {_escape(str(finding.trace.get('status')))} on {_escape(str(finding.trace.get('device')))}: "
                     f"{_escape(str(finding.trace.get('evidence')))}")
    parts.append(f"<sub>nnlint · `nnlint explain {finding.code}`</sub> {_MARK.format(mark)}")
    return "\n\n".join(parts)


def _body(new: int, commented: int, listed: list) -> str:
    lines = [f"**nnlint** found {new} new finding{'s' if new != 1 else ''} in this change"
             + (f": {commented} commented below, {len(listed)} listed here." if listed else ".")]
    if listed:
        lines.append("")
    for mark, finding in listed:
        line = f":{finding.line}" if finding.line is not None else ""
        lines.append(f"- {_escape(finding.path)}{line} **{finding.code}** ({finding.severity.value}): "
                     f"{_escape(placed(finding))} {_MARK.format(mark)}")
    return "\n".join(lines)


def _path(finding) -> str:
    return relative(finding.path)


def _escape(text: str) -> str:
    """Markdown-inert text: every punctuation mark that Markdown or GitHub reads is escaped."""
    return _SPECIAL.sub(r"\\\1", " ".join(text.split()))
