#!/usr/bin/env python3
"""Wire conformance against the providers' official Python SDKs (run by scripts/sdk-conformance.sh).

(a) Each SDK — openai (and its Azure client), anthropic, google-genai, ollama — makes plain, streamed
    and structured-output calls and meets the 401 and 429 paths against panel's strict mock: every
    answer must parse and every error must raise the SDK's own exception class.
(b) panel's own request bodies, captured by the mock for every kind x plain/stream x structured-output
    mode, are validated with the SDKs' typed request models with extra fields forbidden, and one
    deliberately wrong body per kind must fail.

Usage: sdk_conformance.py sdk MOCK_URL FAULTY_URL KEY | requests CAPTURE.jsonl
"""
import json
import sys
import typing

import pydantic
import typing_extensions

failures: list[str] = []
passed = 0


def check(name: str, condition: bool, detail: str = "") -> None:
    global passed
    if condition:
        passed += 1
    else:
        failures.append(f"{name}: {detail}")


def expect_error(name: str, call, error_class) -> None:
    try:
        call()
    except error_class as error:  # the SDK's own class for this status
        check(name, True)
        return error
    except Exception as error:  # noqa: BLE001 — any other class is the finding
        check(name, False, f"raised {type(error).__module__}.{type(error).__name__}: {str(error)[:160]}, want {error_class.__name__}")
        return None
    check(name, False, f"no error, want {error_class.__name__}")
    return None


SCHEMA = {
    "type": "object",
    "properties": {"rationale": {"type": "string"}, "score": {"type": "integer"}, "verdict": {"type": "string", "enum": ["ship", "skip"]}},
    "required": ["rationale", "score", "verdict"],
    "additionalProperties": False,
}
PROMPT = "You are the Builder on a panel.\n<listing>\nName: Acme Relay\nDescription:\nTyped webhooks.\n</listing>"


# --------------------------------------------------------------------------------------------------
# (a) the SDKs against the mock


def sdk_openai(url: str, faulty: str, key: str) -> None:
    import openai

    root = url.rsplit("/v1", 1)[0]
    client = openai.OpenAI(base_url=url, api_key=key, max_retries=0)
    messages = [{"role": "system", "content": "You are the Builder."}, {"role": "user", "content": PROMPT}]
    plain = client.chat.completions.create(model="gpt-4.1-mini", messages=messages, max_completion_tokens=300, temperature=0.2)
    check("openai plain", bool(plain.choices[0].message.content) and plain.usage is not None, repr(plain)[:200])
    chunks = list(client.chat.completions.create(model="gpt-4.1-mini", messages=messages, stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    check("openai stream", bool(text) and any(c.usage for c in chunks), f"{len(chunks)} chunks")
    structured = client.chat.completions.create(
        model="gpt-4.1-mini", messages=messages,
        response_format={"type": "json_schema", "json_schema": {"name": "persona_review", "schema": SCHEMA, "strict": True}})
    check("openai structured", "score" in json.loads(structured.choices[0].message.content), structured.choices[0].message.content[:120])
    wrong = openai.OpenAI(base_url=url, api_key="sk-wrong", max_retries=0)
    expect_error("openai 401", lambda: wrong.chat.completions.create(model="m", messages=messages), openai.AuthenticationError)
    limited = openai.OpenAI(base_url=faulty + "/v1", api_key=key, max_retries=0)
    expect_error("openai 429", lambda: limited.chat.completions.create(model="m", messages=messages), openai.RateLimitError)
    expect_error("openai 400 unknown parameter",
                 lambda: client.chat.completions.create(model="m", messages=messages, extra_body={"frobnicate": 1}), openai.BadRequestError)

    azure = openai.AzureOpenAI(azure_endpoint=root, api_key=key, api_version="2024-10-21", max_retries=0)
    answer = azure.chat.completions.create(model="panel-deployment", messages=messages, max_completion_tokens=200)
    check("azure plain", bool(answer.choices[0].message.content))
    streamed = list(azure.chat.completions.create(model="panel-deployment", messages=messages, stream=True))
    check("azure stream", any(c.choices and c.choices[0].delta.content for c in streamed))
    shaped = azure.chat.completions.create(
        model="panel-deployment", messages=messages,
        response_format={"type": "json_schema", "json_schema": {"name": "persona_review", "schema": SCHEMA, "strict": True}})
    check("azure structured", "verdict" in json.loads(shaped.choices[0].message.content))
    wrong_azure = openai.AzureOpenAI(azure_endpoint=root, api_key="wrong", api_version="2024-10-21", max_retries=0)
    expect_error("azure 401", lambda: wrong_azure.chat.completions.create(model="d", messages=messages), openai.AuthenticationError)
    limited_azure = openai.AzureOpenAI(azure_endpoint=faulty, api_key=key, api_version="2024-10-21", max_retries=0)
    expect_error("azure 429", lambda: limited_azure.chat.completions.create(model="d", messages=messages), openai.RateLimitError)


def sdk_anthropic(url: str, faulty: str, key: str) -> None:
    import anthropic

    root = url.rsplit("/v1", 1)[0]
    client = anthropic.Anthropic(base_url=root, api_key=key, max_retries=0)
    messages = [{"role": "user", "content": PROMPT}]
    plain = client.messages.create(model="claude-haiku-4-5", max_tokens=300, system="You are the Builder.", messages=messages)
    check("anthropic plain", plain.content[0].type == "text" and bool(plain.content[0].text) and plain.usage.output_tokens > 0)
    with client.messages.stream(model="claude-haiku-4-5", max_tokens=300, messages=messages) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    check("anthropic stream", bool(text) and final.stop_reason == "end_turn", final.stop_reason or "")
    tool = client.messages.create(
        model="claude-haiku-4-5", max_tokens=300, messages=messages,
        tools=[{"name": "record_verdict", "description": "Submit.", "input_schema": SCHEMA}],
        tool_choice={"type": "tool", "name": "record_verdict"})
    block = tool.content[0]
    check("anthropic structured (forced tool)", block.type == "tool_use" and block.name == "record_verdict" and "score" in block.input,
          f"{block.type} {getattr(block, 'name', '')}")
    wrong = anthropic.Anthropic(base_url=root, api_key="wrong", max_retries=0)
    expect_error("anthropic 401", lambda: wrong.messages.create(model="c", max_tokens=5, messages=messages), anthropic.AuthenticationError)
    limited = anthropic.Anthropic(base_url=faulty, api_key=key, max_retries=0)
    expect_error("anthropic 429", lambda: limited.messages.create(model="c", max_tokens=5, messages=messages), anthropic.RateLimitError)
    expect_error("anthropic 400 (max_tokens missing)",
                 lambda: client.messages.create(model="c", max_tokens=5, messages=messages, extra_body={"max_tokens": None}),
                 anthropic.BadRequestError)


def sdk_gemini(url: str, faulty: str, key: str) -> None:
    from google import genai
    from google.genai import errors, types

    root = url.rsplit("/v1", 1)[0]
    for version in ("v1", "v1beta"):
        client = genai.Client(api_key=key, http_options=types.HttpOptions(base_url=root, api_version=version))
        plain = client.models.generate_content(model="gemini-2.5-flash", contents=PROMPT)
        check(f"gemini {version} plain", bool(plain.text) and plain.usage_metadata is not None)
        text = "".join(chunk.text or "" for chunk in client.models.generate_content_stream(model="gemini-2.5-flash", contents=PROMPT))
        check(f"gemini {version} stream", bool(text))
    client = genai.Client(api_key=key, http_options=types.HttpOptions(base_url=root, api_version="v1beta"))
    structured = client.models.generate_content(
        model="gemini-2.5-flash", contents=PROMPT,
        config=types.GenerateContentConfig(
            response_mime_type="application/json",
            response_schema=types.Schema(
                type=types.Type.OBJECT, required=["rationale", "score", "verdict"],
                properties={"rationale": types.Schema(type=types.Type.STRING), "score": types.Schema(type=types.Type.INTEGER),
                            "verdict": types.Schema(type=types.Type.STRING, enum=["ship", "skip"])})))
    check("gemini structured", "score" in json.loads(structured.text), (structured.text or "")[:120])
    wrong = genai.Client(api_key="wrong", http_options=types.HttpOptions(base_url=root, api_version="v1"))
    error = expect_error("gemini bad key (400 API_KEY_INVALID)", lambda: wrong.models.generate_content(model="g", contents="hi"), errors.ClientError)
    check("gemini bad key status", error is not None and error.code == 400 and "API_KEY_INVALID" in str(error.details), str(getattr(error, "details", ""))[:160])
    limited = genai.Client(api_key=key, http_options=types.HttpOptions(base_url=faulty, api_version="v1"))
    error = expect_error("gemini 429", lambda: limited.models.generate_content(model="g", contents="hi"), errors.ClientError)
    check("gemini 429 RESOURCE_EXHAUSTED with RetryInfo", error is not None and error.code == 429 and "retryDelay" in json.dumps(error.details),
          str(getattr(error, "details", ""))[:200])


def sdk_ollama(url: str, faulty: str, key: str) -> None:
    import ollama

    root = url.rsplit("/v1", 1)[0]
    client = ollama.Client(host=root, headers={"Authorization": f"Bearer {key}"})
    messages = [{"role": "system", "content": "You are the Builder."}, {"role": "user", "content": PROMPT}]
    plain = client.chat(model="llama3.2", messages=messages, options={"temperature": 0.2, "num_predict": 300})
    check("ollama plain", bool(plain.message.content) and plain.done)
    parts = list(client.chat(model="llama3.2", messages=messages, stream=True))
    check("ollama stream", bool("".join(p.message.content for p in parts)) and parts[-1].done)
    structured = client.chat(model="llama3.2", messages=messages, format=SCHEMA)
    check("ollama structured", "score" in json.loads(structured.message.content))
    wrong = ollama.Client(host=root, headers={"Authorization": "Bearer wrong"})
    error = expect_error("ollama 401", lambda: wrong.chat(model="llama3.2", messages=messages), ollama.ResponseError)
    check("ollama 401 status", error is not None and error.status_code == 401)
    limited = ollama.Client(host=faulty, headers={"Authorization": f"Bearer {key}"})
    error = expect_error("ollama 429", lambda: limited.chat(model="llama3.2", messages=messages), ollama.ResponseError)
    check("ollama 429 status", error is not None and error.status_code == 429)


# --------------------------------------------------------------------------------------------------
# (b) panel's requests against the SDKs' request types


def forbid_extras(annotation, seen: set) -> None:
    """Sets extra='forbid' on every TypedDict reachable from an annotation (TypedDicts ignore extras by
    default, so a field the SDK does not know would pass unnoticed)."""
    origin = typing_extensions.get_origin(annotation)
    if origin is not None:
        for argument in typing_extensions.get_args(annotation):
            forbid_extras(argument, seen)
        return
    # The SDKs declare their params with typing_extensions.TypedDict, which typing.is_typeddict misses.
    if typing_extensions.is_typeddict(annotation) and annotation not in seen:
        seen.add(annotation)
        annotation.__pydantic_config__ = pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=True)
        for hint in typing_extensions.get_type_hints(annotation, include_extras=True).values():
            forbid_extras(hint, seen)


def strict_adapter(typed_dict):
    forbid_extras(typed_dict, set())
    return pydantic.TypeAdapter(typed_dict)


def consume(value):
    """pydantic validates Iterable[...] fields lazily: walk the result so every item is validated."""
    if isinstance(value, dict):
        return {k: consume(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [consume(v) for v in value]
    if hasattr(value, "__iter__") and not isinstance(value, (str, bytes)) and type(value).__name__ == "ValidatorIterator":
        return [consume(v) for v in value]
    return value


def validators():
    from anthropic.types import message_create_params as anthropic_params
    from google.genai import types as genai
    from ollama._types import ChatRequest
    from openai.types.chat import completion_create_params as openai_params

    openai_plain = strict_adapter(openai_params.CompletionCreateParamsNonStreaming)
    openai_stream = strict_adapter(openai_params.CompletionCreateParamsStreaming)
    anthropic_plain = strict_adapter(anthropic_params.MessageCreateParamsNonStreaming)
    anthropic_stream = strict_adapter(anthropic_params.MessageCreateParamsStreaming)

    def openai_body(body: dict) -> None:
        body = json.loads(json.dumps(body))
        format_ = body.get("response_format") or {}
        if format_.get("type") == "json_object" and "schema" in format_:
            # llama.cpp's and vLLM's extension (the schema becomes a grammar); panel sends it to generic
            # servers only, never to OpenAI's API or Azure. Checked as an object, then left out.
            if not isinstance(format_.pop("schema"), dict):
                raise ValueError("response_format.schema is not an object")
        consume((openai_stream if body.get("stream") else openai_plain).validate_python(body))

    def anthropic_body(body: dict) -> None:
        consume((anthropic_stream if body.get("stream") else anthropic_plain).validate_python(body))

    def gemini_body(body: dict) -> None:
        allowed = {"contents", "systemInstruction", "generationConfig"}
        extra = set(body) - allowed
        if extra:
            raise ValueError(f"unknown top-level fields {sorted(extra)}")
        for content in body["contents"]:
            genai.Content.model_validate(content)
        if "systemInstruction" in body:
            genai.Content.model_validate(body["systemInstruction"])
        if "generationConfig" in body:
            genai.GenerationConfig.model_validate(body["generationConfig"])

    class StrictChatRequest(ChatRequest):
        model_config = pydantic.ConfigDict(extra="forbid")

    def ollama_body(body: dict) -> None:
        StrictChatRequest.model_validate(body)

    return {"openai": openai_body, "azure": openai_body, "anthropic": anthropic_body, "gemini": gemini_body, "ollama": ollama_body}


def kind_of(path: str) -> str:
    if path.startswith("/openai/"):
        return "azure"
    if path.startswith("/v1/messages"):
        return "anthropic"
    if path.startswith("/api/chat"):
        return "ollama"
    if ":generateContent" in path or ":streamGenerateContent" in path:
        return "gemini"
    return "openai"


def mode_of(kind: str, body: dict) -> str:
    if kind in ("openai", "azure"):
        return (body.get("response_format") or {}).get("type", "none")
    if kind == "anthropic":
        return "tool" if "tools" in body else "none"
    if kind == "gemini":
        return "schema" if "responseSchema" in (body.get("generationConfig") or {}) else "none"
    return "schema" if isinstance(body.get("format"), dict) else ("json" if body.get("format") else "none")


def stream_of(kind: str, path: str, body: dict) -> bool:
    if kind == "gemini":
        return ":streamGenerateContent" in path
    if kind == "ollama":
        return body.get("stream", True)
    return bool(body.get("stream"))


WRONG = {
    "openai": {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": "lots"},
    "azure": {"model": "m", "messages": [{"role": "user", "content": "hi"}], "frobnicate": True},
    "anthropic": {"model": "c", "messages": [{"role": "user", "content": "hi"}]},
    "gemini": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"maxTokens": 5}},
    "ollama": {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5},
}


def requests(capture: str) -> None:
    validate = validators()
    seen: dict[tuple, int] = {}
    for line in open(capture):
        entry = json.loads(line)
        path, body = entry["path"], json.loads(entry["body"])
        kind = kind_of(path)
        combination = (kind, "stream" if stream_of(kind, path, body) else "plain", mode_of(kind, body))
        try:
            validate[kind](body)
            check(f"panel's {'/'.join(combination)} body", True)
        except (pydantic.ValidationError, ValueError, KeyError, TypeError) as error:
            check(f"panel's {'/'.join(combination)} body", False, f"{path}: {str(error)[:400]}")
        seen[combination] = seen.get(combination, 0) + 1
    for kind, body in WRONG.items():
        try:
            validate[kind](body)
            check(f"a wrong {kind} body is refused", False, "the SDK's types accepted it")
        except (pydantic.ValidationError, ValueError, KeyError, TypeError):
            check(f"a wrong {kind} body is refused", True)
    print("panel request combinations validated: " + ", ".join(f"{'/'.join(k)} ×{n}" for k, n in sorted(seen.items())))
    expected = {("openai", s, m) for s in ("plain", "stream") for m in ("json_schema", "json_object", "none")}
    expected |= {("azure", s, m) for s in ("plain", "stream") for m in ("json_schema", "json_object")}
    expected |= {("anthropic", s, m) for s in ("plain", "stream") for m in ("tool", "none")}
    expected |= {("gemini", s, m) for s in ("plain", "stream") for m in ("schema", "none")}
    expected |= {("ollama", s, m) for s in ("plain", "stream") for m in ("schema", "none")}
    missing = expected - set(seen)
    check("every kind x plain/stream x structured-output mode captured", not missing, f"missing {sorted(missing)}")


def main() -> None:
    import importlib.metadata as metadata

    versions = ", ".join(f"{name} {metadata.version(name)}" for name in ("openai", "anthropic", "google-genai", "ollama", "pydantic"))
    if sys.argv[1] == "sdk":
        url, faulty, key = sys.argv[2:5]
        for name, run in (("openai", sdk_openai), ("anthropic", sdk_anthropic), ("google-genai", sdk_gemini), ("ollama", sdk_ollama)):
            before = passed + len(failures)
            try:
                run(url, faulty, key)
            except Exception as error:  # noqa: BLE001 — an SDK that cannot parse an answer is the finding
                failures.append(f"{name}: {type(error).__name__}: {str(error)[:300]}")
            print(f"  {name}: {passed + len(failures) - before} cases")
        print(f"SDKs against the mock ({versions}): {passed} passed, {len(failures)} failed")
    else:
        requests(sys.argv[2])
        print(f"panel's requests against the SDKs' types ({versions}): {passed} passed, {len(failures)} failed")
    for failure in failures:
        print("  FAIL " + failure)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
