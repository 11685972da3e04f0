"""Drive openai-sandbox with the official openai SDK, the way a normal client would.

Environment: SANDBOX_URL (http://127.0.0.1:PORT), SANDBOX_KEY. Exits non-zero on the first
failed check. Run through tests/sdk/run.sh, which starts the sandbox.
"""

import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.request

import openai
from openai import AzureOpenAI, OpenAI

URL = os.environ["SANDBOX_URL"]
KEY = os.environ["SANDBOX_KEY"]
TIMEOUT = float(os.environ.get("SDK_WAIT_SECONDS", "60"))


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"ok - {what}")


def inspect(path, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(URL + path, data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        raw = r.read()
        return raw if path.startswith("/_sandbox/files/") else json.loads(raw)


def chat_jsonl(n, tag="x"):
    lines = []
    for i in range(n):
        ex = {"messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": f"question {tag} {i}"},
            {"role": "assistant", "content": f"answer {tag} {i}"},
        ]}
        lines.append(json.dumps(ex))
    return ("\n".join(lines) + "\n").encode()


def wait_status(client, job_id, statuses):
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if job.status in statuses:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} never reached {statuses}")


def openai_flow():
    client = OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=4)

    # Files: upload with expires_after, retrieve, list, and the exact bytes the server received.
    data = chat_jsonl(12, "good")
    f = client.files.create(
        file=("train.jsonl", data),
        purpose="fine-tune",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    check(f.id.startswith("file-") and f.bytes == len(data) and f.purpose == "fine-tune", "file uploaded")
    check(f.expires_at == f.created_at + 3600, "expires_at honours expires_after")
    check(inspect(f"/_sandbox/files/{f.id}/received") == data, "sandbox received exactly the uploaded bytes")
    check(client.files.retrieve(f.id).filename == "train.jsonl", "file retrieved")
    small = client.files.create(file=("small.jsonl", chat_jsonl(5, "small")), purpose="fine-tune")
    ids = [x.id for x in client.files.list(purpose="fine-tune", limit=1)]  # auto-paginates with after=
    check(set(ids) >= {f.id, small.id} and len(ids) == len(set(ids)), "file list paginates with limit/after")
    try:
        client.files.content(f.id)
        check(False, "fine-tune file content is not downloadable")
    except openai.BadRequestError:
        check(True, "fine-tune file content is not downloadable (400)")

    # A job that succeeds.
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini",
        training_file=f.id,
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}},
        suffix="sdk-check",
        seed=7,
        metadata={"case": "happy"},
    )
    check(job.status == "validating_files" and job.model == "gpt-4o-mini-2024-07-18", "job created")
    job = wait_status(client, job.id, {"succeeded", "failed", "cancelled"})
    check(job.status == "succeeded", "job succeeded")
    check(job.fine_tuned_model.startswith("ft:gpt-4o-mini-2024-07-18:sandbox-org:sdk-check:"), "fine_tuned_model name")
    check(job.trained_tokens and job.trained_tokens > 0 and job.finished_at, "trained_tokens and finished_at")
    check(job.hyperparameters.n_epochs == 2, "hyperparameters resolved")
    events = list(client.fine_tuning.jobs.list_events(job.id, limit=2))  # paginates with after=
    check(len(events) >= 8, f"events listed ({len(events)})")
    check([e.id for e in events] == sorted([e.id for e in events], reverse=True), "events are newest first")
    msgs = [e.message for e in events]
    check(msgs[0] == "The job has successfully completed" and any(m.startswith("Created fine-tuning job") for m in msgs),
          "events cover creation to completion")
    check(any(e.type == "metrics" for e in events), "metrics events present")
    cks = list(client.fine_tuning.jobs.checkpoints.list(job.id))
    check(len(cks) >= 1 and all(c.fine_tuned_model_checkpoint.startswith(job.fine_tuned_model + ":ckpt-step-") for c in cks),
          "checkpoints listed")
    listed = list(client.fine_tuning.jobs.list(metadata={"case": "happy"}))
    check([j.id for j in listed] == [job.id], "job list filters on metadata")
    result = client.files.retrieve(job.result_files[0])
    check(result.purpose == "fine-tune-results", "result file exists")
    check(client.files.content(result.id).read().startswith(b"step,"), "result file content")
    check(client.models.retrieve(job.fine_tuned_model).owned_by == "org-sandbox", "fine-tuned model exists")

    # Too few examples: the job fails with invalid_n_examples.
    bad = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=small.id)
    bad = wait_status(client, bad.id, {"succeeded", "failed", "cancelled"})
    check(bad.status == "failed" and bad.error.code == "invalid_n_examples" and bad.error.param == "training_file",
          "5-example job fails with invalid_n_examples")
    check("question" not in bad.error.message, "error message carries no content")

    # Invalid requests are 400s.
    for kwargs, what in [
        ({"model": "gpt-nope", "training_file": f.id}, "unknown model"),
        ({"model": "gpt-4o-mini", "training_file": "file-missing"}, "missing file"),
        ({"model": "gpt-4o-mini", "training_file": f.id, "suffix": "x" * 65}, "suffix too long"),
    ]:
        try:
            client.fine_tuning.jobs.create(**kwargs)
            check(False, f"{what} rejected")
        except openai.BadRequestError:
            check(True, f"{what} rejected with 400")

    # Cancel.
    c = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=f.id)
    c = client.fine_tuning.jobs.cancel(c.id)
    check(c.status == "cancelled", "job cancelled")
    try:
        client.fine_tuning.jobs.cancel(c.id)
        check(False, "cancelling a cancelled job is rejected")
    except openai.BadRequestError:
        check(True, "cancelling a cancelled job is rejected (400)")

    # Pause and resume.
    # A short job runs for about 2 s of wall time; if a stalled machine lets it finish before the
    # pause lands (400), try a fresh job rather than fail on timing.
    for _ in range(3):
        p = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=f.id, metadata={"case": "pause"})
        if wait_status(client, p.id, {"running", "succeeded", "failed", "cancelled"}).status != "running":
            continue
        try:
            p = client.fine_tuning.jobs.pause(p.id)
            break
        except openai.BadRequestError:
            check(client.fine_tuning.jobs.retrieve(p.id).status == "succeeded", "pause refused only after success")
    else:
        check(False, "a running job could be paused")
    check(p.status == "paused", "job paused")
    time.sleep(0.5)
    check(client.fine_tuning.jobs.retrieve(p.id).status == "paused", "paused job stays paused")
    p = client.fine_tuning.jobs.resume(p.id)
    check(p.status == "running", "job resumed")
    p = wait_status(client, p.id, {"succeeded", "failed", "cancelled"})
    check(p.status == "succeeded", "resumed job succeeded")

    # DPO with a validation file, hyperparameters in `method`; legacy top-level hyperparameters.
    pref = "".join(json.dumps({
        "input": {"messages": [{"role": "user", "content": f"pick {i}"}]},
        "preferred_output": [{"role": "assistant", "content": "good"}],
        "non_preferred_output": [{"role": "assistant", "content": "bad"}],
    }) + "\n" for i in range(10)).encode()
    pt = client.files.create(file=("pref.jsonl", pref), purpose="fine-tune")
    pv = client.files.create(file=("pref-val.jsonl", pref[: len(pref) // 2]), purpose="fine-tune")
    d = client.fine_tuning.jobs.create(
        model="gpt-4o-mini-2024-07-18", training_file=pt.id, validation_file=pv.id,
        method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2}}},
    )
    d = wait_status(client, d.id, {"succeeded", "failed", "cancelled"})
    check(d.status == "succeeded" and d.method.type == "dpo" and d.method.dpo.hyperparameters.beta == 0.2
          and d.validation_file == pv.id, "DPO job with a validation file succeeded")
    legacy = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=f.id, hyperparameters={"n_epochs": 1})
    check(legacy.method.type == "supervised" and legacy.method.supervised.hyperparameters.n_epochs == 1,
          "legacy hyperparameters map to method.supervised")
    client.fine_tuning.jobs.cancel(legacy.id)
    try:
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=pt.id, method={"type": "supervised"})
        bad_format = wait_status(client, client.fine_tuning.jobs.list(limit=1).data[0].id, {"failed", "succeeded"})
        check(bad_format.error.code == "invalid_file_format", "preference data in a supervised job fails the format check")
    except openai.BadRequestError:
        check(False, "format errors surface on the job, not on create")

    # Reinforcement: validate and run a grader, then a reinforcement job on prompts whose extra
    # field is what the grader reads.
    grader = {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
              "reference": "{{item.label}}", "operation": "eq"}
    v = client.fine_tuning.alpha.graders.validate(grader=grader)
    check(v.grader.name == "exact", "grader validated")
    run = client.fine_tuning.alpha.graders.run(grader=grader, model_sample="billing", item={"label": "billing"})
    check(run.reward == 1.0 and not run.metadata.errors.invalid_variable_error, "grader run scores a match 1.0")
    miss = client.fine_tuning.alpha.graders.run(grader=grader, model_sample="outage", item={"label": "billing"})
    check(miss.reward == 0.0, "grader run scores a mismatch 0.0")
    try:
        client.fine_tuning.alpha.graders.validate(grader={**grader, "operation": "contains"})
        check(False, "an invalid grader is refused")
    except openai.BadRequestError:
        check(True, "an invalid grader is refused (400)")
    rft = b"".join((json.dumps({"messages": [{"role": "user", "content": f"ticket {i}"}], "label": "billing"})
                    + "\n").encode() for i in range(10))
    rf = client.files.create(file=("rft.jsonl", rft), purpose="fine-tune")
    rj = client.fine_tuning.jobs.create(
        model="o4-mini-2025-04-16", training_file=rf.id,
        method={"type": "reinforcement", "reinforcement": {"grader": grader, "hyperparameters": {"reasoning_effort": "low"}}},
    )
    rj = wait_status(client, rj.id, {"succeeded", "failed", "cancelled"})
    check(rj.status == "succeeded" and rj.method.type == "reinforcement"
          and rj.method.reinforcement.grader.name == "exact", "reinforcement job succeeded")

    # Uploads API: several parts, md5 checked, completion creates a File.
    big = chat_jsonl(400, "upload")
    up = client.uploads.upload_file_chunked(
        file=big, filename="big.jsonl", bytes=len(big), mime_type="text/jsonl", purpose="fine-tune",
        part_size=len(big) // 3 + 1, md5=hashlib.md5(big).hexdigest(),
    )
    check(up.status == "completed" and up.file.bytes == len(big), "upload completed into a file")
    check(inspect(f"/_sandbox/files/{up.file.id}/received") == big, "upload bytes received in order")
    u2 = client.uploads.create(bytes=10, filename="short.jsonl", mime_type="text/jsonl", purpose="fine-tune")
    part = client.uploads.parts.create(upload_id=u2.id, data=b"12345")
    try:
        client.uploads.complete(upload_id=u2.id, part_ids=[part.id])
        check(False, "upload with wrong byte count is rejected")
    except openai.BadRequestError:
        check(True, "upload with wrong byte count is rejected (400)")
    check(client.uploads.cancel(upload_id=u2.id).status == "cancelled", "upload cancelled")

    # Retries: two 429s with Retry-After, then a dropped connection; the SDK retries through them.
    inspect("/_sandbox/faults", "POST", {"rules": [
        {"route": "GET /v1/files/*", "count": 2, "kinds": ["429"], "retry_after_ms": 100},
        {"route": "GET /v1/models/*", "count": 1, "kinds": ["drop"]},
    ]})
    check(client.files.retrieve(f.id).id == f.id, "SDK retried two 429s")
    check(client.models.retrieve("gpt-4o-mini").id == "gpt-4o-mini", "SDK retried a dropped connection")
    faults = [r for r in inspect("/_sandbox/requests")["data"] if r["fault"]]
    check([r["fault"] for r in faults] == ["429", "429", "drop"], "faults were injected and logged")
    inspect("/_sandbox/faults", "POST", {})

    # Models: delete the fine-tuned ones; base models cannot be deleted.
    for m in {job.fine_tuned_model, p.fine_tuned_model, d.fine_tuned_model, rj.fine_tuned_model}:
        d = client.models.delete(m)
        check(d.deleted and d.id == m, f"model deleted")
        try:
            client.models.retrieve(m)
            check(False, "deleted model is gone")
        except openai.NotFoundError:
            check(True, "deleted model answers 404")
    try:
        client.models.delete("gpt-4o-mini")
        check(False, "base model cannot be deleted")
    except openai.PermissionDeniedError:
        check(True, "base model deletion is refused (403)")

    # Delete every file; nothing of ours is left.
    for x in client.files.list():
        check(client.files.delete(x.id).deleted, f"file {x.purpose} deleted")
    try:
        client.files.retrieve(f.id)
        check(False, "deleted file is gone")
    except openai.NotFoundError:
        check(True, "deleted file answers 404")
    state = inspect("/_sandbox/state")
    check(state["counts"]["files"] == 0 and state["counts"]["models"] == 0, "no files or models left")
    received = inspect("/_sandbox/received")["data"]
    check(all(r["deleted"] for r in received) and {r["id"] for r in received} >= {f.id, small.id, up.file.id},
          "received log keeps every file, all deleted")

    # Wrong key.
    try:
        OpenAI(base_url=URL + "/v1", api_key="sk-wrong", max_retries=0).models.list()
        check(False, "wrong key rejected")
    except openai.AuthenticationError as e:
        check(e.status_code == 401 and e.code == "invalid_api_key", "wrong key rejected (401)")


def azure_flow():
    client = AzureOpenAI(azure_endpoint=URL, api_key=KEY, api_version="2024-10-21", max_retries=2)
    data = chat_jsonl(10, "azure")
    raw = client.files.with_raw_response.create(file=("azure.jsonl", data), purpose="fine-tune")
    f = raw.parse()
    check(raw.status_code == 201 and f.status == "pending", "azure file created (201, pending)")
    try:
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=f.id)
        check(False, "azure rejects a job on an unprocessed file")
    except openai.BadRequestError:
        check(True, "azure rejects a job on an unprocessed file (400)")
    f = client.files.wait_for_processing(f.id, poll_interval=0.1, max_wait_seconds=30)
    check(f.status == "processed", "azure file processed")
    raw = client.fine_tuning.jobs.with_raw_response.create(model="gpt-4o-mini", training_file=f.id, suffix="az")
    job = raw.parse()
    check(raw.status_code == 201, "azure job created (201)")
    job = wait_status(client, job.id, {"succeeded", "failed", "cancelled"})
    check(job.status == "succeeded" and ".ft-" in job.fine_tuned_model, "azure job succeeded")
    check(len(list(client.fine_tuning.jobs.list_events(job.id))) > 3, "azure events listed")
    try:
        client.models.delete(job.fine_tuned_model)
        check(False, "azure data plane has no model deletion")
    except openai.APIStatusError as e:
        check(e.status_code == 405, "azure model deletion is not in the data plane (405)")
    import httpx2 as httpx  # the SDK's own HTTP library
    r = client.delete(f"/fine_tuning/jobs/{job.id}", cast_to=httpx.Response)
    check(r.status_code == 204, "azure job deleted (204)")
    try:
        client.fine_tuning.jobs.retrieve(job.id)
        check(False, "deleted azure job is gone")
    except openai.NotFoundError:
        check(True, "deleted azure job answers 404")
    check(client.files.delete(f.id).deleted, "azure file deleted")
    req = urllib.request.Request(URL + "/openai/files", headers={"api-key": KEY})
    try:
        urllib.request.urlopen(req)
        check(False, "azure requires api-version")
    except urllib.error.HTTPError as e:
        body = json.loads(e.read())
        check(e.code == 400 and body["error"]["code"] == "MissingApiVersionParameter", "azure requires api-version (400)")
    try:
        AzureOpenAI(azure_endpoint=URL, api_key="wrong", api_version="2024-10-21", max_retries=0).files.list().data
        check(False, "azure wrong key rejected")
    except openai.AuthenticationError:
        check(True, "azure wrong key rejected (401)")


if __name__ == "__main__":
    try:
        openai_flow()
        azure_flow()
    except Exception as e:  # report the failing step clearly, then fail
        print(f"not ok - {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"all SDK checks passed (openai {openai.__version__})")
