"""The stub model's own answers when no scenario rule matches: plausible and deterministic.

* A question over context passages (``[1] ...``, ``Document 2: ...``, ``<doc id="x">``) gets an
  extractive answer: the best-matching sentence, quoted and cited (``... [2]``); with no
  overlapping passage it abstains, as a grounded model should.
* After tool results it reports them; offered tools are called when the user's words match a
  tool's name or description (or always, with ``tool_choice`` ``required`` or a named function),
  once per listed place or name when the user lists several (``parallel.py``).
* JSON modes get a valid instance of the schema, filled from the conversation where a property
  name suggests what belongs there.
"""

from __future__ import annotations

import json
import math
import re

from grader.stub.conversation import Generation, Prompt, Tool, ToolCall, stable_id
from grader.stub.schema_instance import StringHint, instance_for

ABSTAIN = "I don't know based on the provided context."
QUOTE_WHOLE = 300
"""Passages up to this many characters are quoted whole; longer ones by their best sentence."""

_STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        """
    a an and are as at be by can could did do does for from had has have how i in is it its may me my of
    on or our please should tell than that the their them then there these they this to use using was we
    were what when where which who whom why will with would you your get set about into
""",
    )
)
_WORD = re.compile(r"[A-Za-z0-9]+")
_MARKER = re.compile(
    r"^\s*(?:\[(?P<bracket>[^\]\n]{1,40})\]|(?:passage|document|doc|source|context)\s*#?\s*(?P<named>[\w-]{1,20})"
    r"\s*[:.)\-])\s*(?P<text>.*)$",
    re.IGNORECASE,
)
_XML_DOC = re.compile(r"<(?:doc|document|passage)\s+id=[\"']?([^\"'>\s]+)[\"']?\s*>(.*?)</", re.DOTALL | re.IGNORECASE)
_QUESTION = re.compile(r"question\s*:\s*(.+)", re.IGNORECASE)
_PROPER = re.compile(r"(?<![.?!]\s)(?<!^)\b([A-Z][a-zA-Z]+(?:\s+[A-Z][a-zA-Z]+)*)")
_QUERY_FIELDS = {"query", "question", "q", "search_query", "text", "input", "prompt", "topic", "keywords"}
ENTITY_FIELDS = {"city", "location", "place", "country", "name", "person", "company", "destination"}
_ANSWER_FIELDS = {"answer", "response", "summary", "reply", "explanation", "reasoning", "result"}


def terms(text: str) -> list[str]:
    """Lower-cased content words with a plural ``s`` stripped: the unit of every overlap score."""
    words = (w.lower() for w in _WORD.findall(text))
    return [w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words if w not in _STOPWORDS]


def passages(text: str) -> list[tuple[str, str]]:
    """``(id, text)`` for each context passage found, in order of appearance."""
    found = [(pid, " ".join(body.split())) for pid, body in _XML_DOC.findall(text)]
    if found:
        return found
    current: list[str] | None = None
    for line in text.splitlines():
        match = _MARKER.match(line)
        if match:
            current = [match.group("bracket") or match.group("named"), match.group("text").strip()]
            found.append(current)  # type: ignore[arg-type]
        elif current is not None and line.strip() and not _QUESTION.match(line.strip()):
            current[1] = (current[1] + " " + line.strip()).strip()
        else:
            current = None
    return [(pid, body) for pid, body in found if body]


def question_of(user_text: str) -> str:
    """The question in a user message: after ``Question:``, else its last line ending in ``?``."""
    match = _QUESTION.search(user_text)
    if match:
        return match.group(1).strip()
    asked = [line.strip() for line in user_text.splitlines() if line.strip().endswith("?")]
    return asked[-1] if asked else user_text.strip()


def extractive_answer(context: str, question: str) -> str | None:
    """The best passage for ``question`` (or its best sentence, if long), cited by passage id.

    None when there are no passages; :data:`ABSTAIN` when no passage shares a word with the question.
    """
    docs = passages(context)
    if not docs:
        return None
    wanted = set(terms(question))
    doc_terms = [set(terms(body)) for _, body in docs]
    weight = {t: math.log(1 + len(docs) / (1 + sum(t in d for d in doc_terms))) for t in wanted}
    scores = [sum(weight[t] for t in wanted & d) for d in doc_terms]
    best = max(range(len(docs)), key=lambda i: (scores[i], -i))
    if scores[best] <= 0:
        return ABSTAIN
    pid, body = docs[best]
    if len(body) <= QUOTE_WHOLE:
        return f"{body} [{pid}]"
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", body) if s]
    sentence = max(sentences, key=lambda s: (sum(weight.get(t, 0) for t in set(terms(s))), -sentences.index(s)))
    return f"{sentence.strip()} [{pid}]"


def _tool_results(prompt: Prompt) -> list[str]:
    return [f"{t.name or 'tool'} returned {t.text}" for t in prompt.since_last_user() if t.role == "tool"]


def text_answer(prompt: Prompt) -> str:
    """The plain-text answer the default model gives (see the module docstring)."""
    results = _tool_results(prompt)
    if results and prompt.turns[-1].role == "tool":
        return "Based on the tool results: " + "; ".join(results) + "."
    user = prompt.last("user")
    if user is None or not user.text.strip():
        return "Hello! How can I help you today?"
    # A blank line between messages, so a passage never runs on into the next message.
    context = "\n\n".join([*(t.text for t in prompt.turns if t.role in ("system", "developer")), user.text])
    answer = extractive_answer(context, question_of(user.text))
    if answer is not None:
        return answer
    return f"This is the stub model's reply to: {' '.join(user.text.split())[:200]}"


def string_hint(prompt: Prompt, answer: str | None = None) -> StringHint:
    """Fill string properties from the conversation: query-like fields get the user's words,
    place/name-like fields the last proper noun, answer-like fields the text answer."""
    user = prompt.last("user")
    user_text = " ".join(user.text.split()) if user else ""

    def hint(name: str) -> str | None:
        key = name.lower()
        if key in _QUERY_FIELDS:
            return question_of(user_text)[:200] if user_text else None
        if key in ENTITY_FIELDS:
            nouns = _PROPER.findall(user_text)
            return nouns[-1] if nouns else None
        if key in _ANSWER_FIELDS:
            return answer if answer is not None else text_answer(prompt)
        return None

    return hint


def _best_tool(prompt: Prompt) -> Tool | None:
    user = prompt.last("user")
    words = set(terms(user.text)) if user else set()

    def score(tool: Tool) -> int:
        name_hits = len(words & set(terms(tool.name.replace("_", " ").replace("-", " "))))
        return 2 * name_hits + len(words & set(terms(tool.description)))

    best = max(prompt.tools, key=score, default=None)
    return best if best is not None and score(best) >= 2 else None


def call_tool(prompt: Prompt, tool: Tool, arguments: dict | str | None = None, index: int = 0) -> ToolCall:
    """A call to ``tool``; without given arguments, a valid instance of its parameter schema."""
    if arguments is None:
        arguments = instance_for(tool.parameters or {"type": "object"}, string_hint(prompt))
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    call_id = stable_id("call_", prompt.model, len(prompt.turns), prompt.turns[-1:], tool.name, text, index)
    return ToolCall(id=call_id, name=tool.name, arguments=text)


def default_generation(prompt: Prompt) -> Generation:
    """What the stub model says when no rule decides (see the module docstring)."""
    if prompt.tools and prompt.tool_choice != "none":
        forced = prompt.tool_choice != "auto"
        answered = any(t.role == "tool" for t in prompt.since_last_user())
        tool = None
        if forced:
            named = prompt.tool(prompt.tool_choice)
            tool = named or _best_tool(prompt) or prompt.tools[0]
        elif not answered:
            tool = _best_tool(prompt)
        if tool is not None:
            from grader.stub.parallel import calls_for  # it builds on this module's call_tool

            return Generation(tool_calls=calls_for(prompt, tool), finish_reason="tool_calls")
    return Generation(content=format_output(prompt, text_answer(prompt)))


def format_output(prompt: Prompt, answer: str) -> str:
    """Shape a text answer for the requested output format (JSON modes get JSON)."""
    output = prompt.output
    if output.kind == "json_schema" and output.schema is not None:
        return json.dumps(instance_for(output.schema, string_hint(prompt, answer)))
    if output.kind in ("json_object", "json_schema"):
        return json.dumps({"answer": answer})
    return answer
