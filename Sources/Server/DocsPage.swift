/// `GET /docs`: a self-contained page (no CDN, works offline) that fetches `/openapi.json` and
/// lists every operation with its parameters, body and responses.
enum DocsPage {
    static let html = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>IMN server API</title>
        <style>
        body{font:15px/1.45 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
        h1{margin-bottom:0}.op{border:1px solid #ddd;border-radius:6px;margin:1em 0;padding:.6em 1em}
        .m{display:inline-block;min-width:4.5em;font-weight:bold;text-transform:uppercase}
        .get{color:#0a6}.post{color:#06c}.delete{color:#c30}code,pre{background:#f5f5f5;padding:0 .3em;border-radius:3px}
        pre{padding:.6em;overflow:auto;font-size:13px}table{border-collapse:collapse}td{padding:2px 10px 2px 0;vertical-align:top}
        </style></head><body>
        <h1 id="title">IMN server API</h1><p id="description"></p>
        <p>The machine-readable document: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
        <div id="ops">Loading…</div>
        <script>
        const esc = s => String(s ?? "").replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
        fetch("/openapi.json").then(r => r.json()).then(doc => {
          document.getElementById("title").textContent = doc.info.title + " " + doc.info.version;
          document.getElementById("description").textContent = doc.info.description || "";
          let html = "";
          for (const [path, item] of Object.entries(doc.paths)) {
            for (const [method, op] of Object.entries(item)) {
              html += `<div class="op"><span class="m ${method}">${method}</span><code>${esc(path)}</code> — ${esc(op.summary)}`;
              if (op.description) html += `<p>${esc(op.description)}</p>`;
              if (op.parameters) {
                html += "<table>";
                for (const p of op.parameters) html += `<tr><td><code>${esc(p.name)}</code></td><td>${esc(p.in)}${p.required ? ", required" : ""}</td><td>${esc(p.description)}</td></tr>`;
                html += "</table>";
              }
              if (op.requestBody) html += `<p>Body: <pre>${esc(JSON.stringify(op.requestBody.content, null, 1))}</pre></p>`;
              html += "<p>Responses: " + Object.entries(op.responses).map(([code, r]) => `<b>${code}</b> ${esc(r.description)}`).join(" · ") + "</p></div>";
            }
          }
          html += "<h2>Schemas</h2><pre>" + esc(JSON.stringify(doc.components.schemas, null, 2)) + "</pre>";
          document.getElementById("ops").innerHTML = html;
        }).catch(e => { document.getElementById("ops").textContent = "Could not load /openapi.json: " + e; });
        </script></body></html>
        """
}
