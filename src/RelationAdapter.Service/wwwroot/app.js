// The demo page: submits an edit, follows its progress over Server-Sent Events and shows the result.
// Plain browser JavaScript, no build step. Requests carry the API key when one is entered.
"use strict";

const $ = id => document.getElementById(id);
const form = $("edit-form");

function headers() {
  const key = $("api-key").value.trim();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

function showError(problem) {
  const box = $("error");
  box.replaceChildren();
  const title = document.createElement("strong");
  title.textContent = problem.title || "Something went wrong";
  box.append(title);
  if (problem.detail) box.append(document.createTextNode(` ${problem.detail}`));
  if (problem.errors) {
    const list = document.createElement("ul");
    for (const [field, messages] of Object.entries(problem.errors))
      for (const message of messages) {
        const item = document.createElement("li");
        item.textContent = `${field}: ${message}`;
        list.append(item);
      }
    box.append(list);
  }
  box.hidden = false;
}

async function problemOf(response) {
  try { return await response.json(); }
  catch { return { title: `HTTP ${response.status}`, detail: response.statusText }; }
}

function preview(input, img) {
  input.addEventListener("change", () => {
    const file = input.files[0];
    img.src = file ? URL.createObjectURL(file) : "";
  });
}
preview($("prompt-image"), $("preview-before"));
preview($("reference-image"), $("preview-after"));
preview($("source-image"), $("preview-source"));

function setProgress(job) {
  const line = $("status-line");
  if (job.status === "queued")
    line.textContent = `Queued · position ${job.queue_position + 1}`;
  else if (job.status === "running")
    line.textContent = job.stage === "denoise" || job.stage === "decode"
      ? `Running · step ${job.progress.step} of ${job.progress.total}`
      : `Running · ${(job.stage || "starting").replaceAll("_", " ")}`;
  else
    line.textContent = job.status[0].toUpperCase() + job.status.slice(1);
  $("progress-bar").value = job.progress.total ? job.progress.step / job.progress.total : 0;
}

// EventSource cannot send an Authorization header, so the stream is read with fetch.
async function follow(job) {
  const response = await fetch(job.links.events, { headers: headers() });
  if (!response.ok) throw await problemOf(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "", last = job;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split("\n").filter(l => l.startsWith("data:")).map(l => l.slice(5).trim()).join("\n");
      if (data) { last = JSON.parse(data); setProgress(last); }
    }
  }
  return last;
}

async function showResult(job) {
  const response = await fetch(job.links.result, { headers: headers() });
  if (!response.ok) throw await problemOf(response);
  const url = URL.createObjectURL(await response.blob());
  $("result-image").src = url;
  const download = $("download");
  download.href = url;
  download.download = `${job.id}.${job.output_format}`;
  $("result-meta").textContent = `· ${job.width}×${job.height} · seed ${job.seed}`;
  $("result-figure").hidden = false;
}

form.addEventListener("submit", async event => {
  event.preventDefault();
  $("error").hidden = true;
  $("result-figure").hidden = true;
  const body = new FormData(form);
  for (const [key, value] of [...body.entries()])
    if (value === "" || (value instanceof File && value.size === 0)) body.delete(key);
  $("submit").disabled = true;
  try {
    const response = await fetch("/v1/edits", { method: "POST", body, headers: headers() });
    if (response.status !== 202) throw await problemOf(response);
    const job = await response.json();
    $("progress").hidden = false;
    setProgress(job);
    const final = await follow(job);
    if (final.status === "succeeded") await showResult(final);
    else if (final.error) throw final.error;
  } catch (problem) {
    showError(problem instanceof Error ? { title: problem.message } : problem);
  } finally {
    $("submit").disabled = false;
  }
});

$("cache-pair").addEventListener("click", async () => {
  $("error").hidden = true;
  const body = new FormData();
  body.append("prompt_image", $("prompt-image").files[0] ?? new Blob());
  body.append("reference_image", $("reference-image").files[0] ?? new Blob());
  try {
    const response = await fetch("/v1/relations", { method: "POST", body, headers: headers() });
    if (!response.ok) throw await problemOf(response);
    const relation = await response.json();
    $("relation-id").value = relation.id;
    $("prompt-image").value = "";
    $("reference-image").value = "";
  } catch (problem) {
    showError(problem);
  }
});

// The fields' bounds and defaults are the server's configured limits, as its OpenAPI document states them.
fetch("/swagger/v1/swagger.json").then(r => r.json()).then(openApi => {
  const fields = openApi.components.schemas.EditForm.properties;
  for (const input of form.querySelectorAll("input[name]")) {
    const field = fields[input.name];
    if (!field) continue;
    if (field.minimum !== undefined) input.min = field.minimum;
    if (field.maximum !== undefined) input.max = field.maximum;
    if (field.maxLength !== undefined) input.maxLength = field.maxLength;
    if (field.default !== undefined && input.type === "number" && input.value === "") input.value = field.default;
  }
}).catch(() => { /* without them the server still checks every field and names the invalid ones */ });

fetch("/readyz").then(r => r.json()).then(ready => {
  $("model-status").textContent = ready.status === "ready"
    ? `model: ${ready.model}` + (ready.placeholder ? " (demo model: results are meaningless)" : "")
    : `model ${ready.status}`;
}).catch(() => { $("model-status").textContent = "model status unknown"; });
