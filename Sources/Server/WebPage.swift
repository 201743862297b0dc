/// `GET /` for browsers: the agents with their location, alive state and last heartbeat, a live
/// feed of results, an RTT chart per agent and target, a form that runs a module on an agent from
/// the input schema it advertises, and one that measures from many agents chosen by country, ASN
/// and tag, with its runs in a table by location (`/#measure?tag=…&module=…` fills it and runs it), and
/// the archive's history (`GET /history`) charted as p50 and p95 per group (`/#history?…` draws it). Self-contained (no CDN, no build step): it reads `/agents`,
/// recent results, and follows `/live/events` with `fetch`, so a bearer token (kept in the
/// browser's local storage) works for everything.
enum WebPage {
    static let html = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
        <title>IMN</title>
        <style>
        body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;background:#f4f6f9}
        header{background:#1d2330;color:#fff;padding:.7em 1.2em;display:flex;gap:1.5em;align-items:baseline;flex-wrap:wrap}
        header h1{font-size:1.3em;margin:0}header a{color:#9cc3ff}
        main{display:grid;grid-template-columns:minmax(360px,1fr) minmax(360px,1fr);gap:1em;padding:1em 1.2em}
        section{background:#fff;border-radius:8px;box-shadow:0 1px 3px #0002;padding:.6em 1em;min-width:0}
        h2{font-size:1.05em;margin:.3em 0 .6em}table{border-collapse:collapse;width:100%}
        td,th{text-align:left;padding:3px 8px 3px 0;border-bottom:1px solid #eee;vertical-align:top}
        .alive{color:#0a7d32;font-weight:600}.dead{color:#b3261e;font-weight:600}
        .completed{color:#0a7d32}.failed,.error{color:#b3261e}.muted{color:#778}
        #feed{max-height:340px;overflow:auto;font-size:13px}#feed div{padding:2px 0;border-bottom:1px solid #f0f0f0}
        label{display:block;margin:.35em 0 .1em;font-weight:600}input,select{font:inherit;padding:3px 5px;width:100%;box-sizing:border-box}
        button{font:inherit;margin-top:.7em;padding:4px 14px}pre{background:#f5f6f8;padding:.5em;overflow:auto;max-height:240px;font-size:12px}
        #token-box{display:none}.wide{grid-column:1 / -1}svg{width:100%;height:260px}
        </style></head><body>
        <header><h1>IMN</h1><span id="status">connecting…</span><span id="live" class="muted">live: off</span>
        <a href="/docs">API</a></header>
        <main>
        <section id="token-box" class="wide"><h2>Token</h2><p>This server wants a bearer token.</p>
        <input id="token" type="password" placeholder="bearer token"><button id="token-save">Use token</button></section>
        <section><h2>Agents</h2><table><thead><tr><th>agent</th><th>state</th><th>where</th><th>last heartbeat</th><th>modules</th></tr></thead>
        <tbody id="agents"><tr><td colspan="5" class="muted">loading…</td></tr></tbody></table></section>
        <section><h2>Run a module</h2><form id="run">
        <label for="run-agent">Agent</label><select id="run-agent"></select>
        <label for="run-module">Module</label><select id="run-module"></select><p id="run-description" class="muted"></p>
        <div id="run-fields"></div><button type="submit">Run</button></form><pre id="run-result" class="muted">—</pre></section>
        <section class="wide"><h2>Measure from many agents</h2><form id="many">
        <label for="many-module">Module</label><select id="many-module"></select>
        <label for="many-input">Input (JSON)</label><input id="many-input" value='{"host":"127.0.0.1","count":3}'>
        <label>Where: every field given must match (country ISO code, ASN, tag); limit: how many agents</label>
        <div style="display:flex;gap:.5em"><input id="many-country" placeholder="country, e.g. DE"><input id="many-asn" placeholder="ASN, e.g. 3320">
        <input id="many-tag" placeholder="tag, e.g. eyeball"><input id="many-limit" type="number" min="1" max="1000" value="10"></div>
        <button type="submit">Measure</button></form>
        <table><thead><tr><th>location</th><th>agent</th><th>state</th><th>result</th></tr></thead>
        <tbody id="many-runs"><tr><td colspan="4" class="muted">—</td></tr></tbody></table><div id="many-summary" class="muted"></div></section>
        <section class="wide"><h2>RTT by agent and target (ms)</h2><svg id="chart" viewBox="0 0 1000 260" preserveAspectRatio="none"></svg>
        <div id="legend" class="muted">no RTTs yet: run ping_module or tcping_module</div></section>
        <section class="wide"><h2>History (ClickHouse archive)</h2><form id="history">
        <div style="display:flex;gap:.5em"><input id="history-module" value="ping_module" title="module"><input id="history-target" placeholder="target, e.g. 192.0.2.1">
        <input id="history-country" placeholder="country"><select id="history-range"><option value="3600">last hour</option><option value="86400" selected>last day</option>
        <option value="604800">last week</option><option value="2592000">last 30 days</option></select>
        <select id="history-group"><option value="">all together</option><option>agent</option><option>country</option><option>asn</option><option>target</option></select>
        <button type="submit" style="margin-top:0">Show</button></div></form>
        <svg id="history-chart" viewBox="0 0 1000 260" preserveAspectRatio="none"></svg>
        <div id="history-legend" class="muted">RTT p50 (solid) and p95 (dashed) per step, from GET /history</div></section>
        <section class="wide"><h2>Results, live</h2><div id="feed"><div class="muted">waiting for results…</div></div></section>
        </main>
        <script>
        "use strict";
        const $ = id => document.getElementById(id);
        const esc = s => String(s ?? "").replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
        let token = localStorage.getItem("imn-token") || "";
        const headers = () => token ? {"Authorization": "Bearer " + token} : {};
        async function api(path, options = {}) {
          const response = await fetch(path, {...options, headers: {...headers(), ...(options.headers || {})}});
          if (response.status === 401) { $("token-box").style.display = "block"; throw new Error("401: a token is needed"); }
          return response;
        }
        $("token-save").onclick = () => { token = $("token").value.trim(); localStorage.setItem("imn-token", token); location.reload(); };

        let agents = [];
        const lastHeard = {};
        async function loadAgents() {
          const status = await (await api("/status")).json();
          $("status").textContent = `${status.agents_alive} of ${status.agents_total} agents alive · version ${status.version}`;
          agents = await (await api("/agents")).json();
          for (const agent of agents) lastHeard[agent.agent_id] = Date.now() - agent.seconds_since_heartbeat * 1000;
          renderAgents();
          renderRunForm();
          renderManyForm();
        }
        function renderAgents() {
          $("agents").innerHTML = agents.map(agent => {
            const seconds = ((Date.now() - lastHeard[agent.agent_id]) / 1000).toFixed(1);
            return `<tr id="agent-${esc(agent.agent_id)}"><td>${esc(agent.agent_id)}</td>` +
              `<td class="${agent.alive ? "alive" : "dead"}">${agent.alive ? "alive" : "dead"}</td><td>${esc(place(agent.location))}</td>` +
              `<td>${seconds} s ago</td><td>${agent.modules.map(m => esc(m.name)).join(", ")}</td></tr>`;
          }).join("") || `<tr><td colspan="5" class="muted">no agent has sent a heartbeat</td></tr>`;
        }
        function place(location) {
          if (!location) return "";
          return [location.city, location.country, location.asn ? "AS" + location.asn : "", (location.tags || []).join(" ")].filter(Boolean).join(" · ");
        }

        function renderRunForm() {
          const agentSelect = $("run-agent");
          const chosen = agentSelect.value;
          agentSelect.innerHTML = agents.map(a => `<option${a.agent_id === chosen ? " selected" : ""}>${esc(a.agent_id)}</option>`).join("");
          if (!chosen) renderModules();
        }
        function renderManyForm() {
          const select = $("many-module"), chosen = select.value;
          const names = [...new Set(agents.flatMap(a => a.modules.map(m => m.name)))].sort();
          select.innerHTML = names.map(n => `<option${n === (chosen || "ping_module") ? " selected" : ""}>${esc(n)}</option>`).join("");
        }
        $("many").onsubmit = async event => {
          event.preventDefault();
          const location = {};
          if ($("many-country").value.trim()) location.country = $("many-country").value.trim();
          if ($("many-asn").value.trim()) location.asn = Number($("many-asn").value);
          if ($("many-tag").value.trim()) location.tags = [$("many-tag").value.trim()];
          $("many-runs").innerHTML = `<tr><td colspan="4" class="muted">measuring…</td></tr>`;
          try {
            const body = {module: $("many-module").value, input: JSON.parse($("many-input").value || "{}"),
              locations: [location], limit: Number($("many-limit").value) || 1};
            const answer = await (await api("/measurements?wait=30", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)})).json();
            if (!answer.runs) { $("many-runs").innerHTML = `<tr><td colspan="4">${esc(answer.detail)} ${esc((answer.errors || []).map(e => e.pointer + ": " + e.detail).join("; "))}</td></tr>`; return; }
            const runs = [...answer.runs].sort((a, b) => place(a.location).localeCompare(place(b.location)));
            $("many-runs").innerHTML = runs.map(run => {
              const figures = run.stats ? `avg ${run.stats.avg_ms?.toFixed(3)} ms · loss ${(run.stats.loss * 100).toFixed(0)}%` : JSON.stringify(run.result ?? run.error ?? "");
              return `<tr class="many-run"><td>${esc(place(run.location))}</td><td>${esc(run.agent_id)}</td><td class="${esc(run.state)}">${esc(run.state)}</td><td>${esc(figures.slice(0, 160))}</td></tr>`;
            }).join("");
            const rtt = answer.summary.rtt;
            $("many-summary").textContent = `${answer.id}: ${answer.summary.completed} of ${answer.summary.runs} completed` +
              (rtt ? ` · RTT min ${rtt.min_ms?.toFixed(3)} / median ${rtt.median_ms?.toFixed(3)} / max ${rtt.max_ms?.toFixed(3)} ms · loss ${(rtt.loss * 100).toFixed(1)}%` : "");
          } catch (error) { $("many-runs").innerHTML = `<tr><td colspan="4">${esc(error)}</td></tr>`; }
        };
        function currentAgent() { return agents.find(a => a.agent_id === $("run-agent").value); }
        function renderModules() {
          const agent = currentAgent();
          $("run-module").innerHTML = (agent?.modules || []).map(m => `<option>${esc(m.name)}</option>`).join("");
          renderFields();
        }
        function currentModule() { return currentAgent()?.modules.find(m => m.name === $("run-module").value); }
        function renderFields() {
          const schema = currentModule()?.input_schema || {};
          $("run-description").textContent = currentModule()?.description || "";
          const required = new Set(schema.required || []);
          $("run-fields").innerHTML = Object.entries(schema.properties || {}).map(([name, property]) => {
            const id = "field-" + name;
            const label = `<label for="${id}">${esc(name)}${required.has(name) ? " *" : ""} <span class="muted">${esc(property.description || "")}</span></label>`;
            if (property.enum) return label + `<select id="${id}" data-type="enum">` + property.enum.map(v => `<option${v === property.default ? " selected" : ""}>${esc(v)}</option>`).join("") + "</select>";
            if (property.type === "boolean") return label + `<select id="${id}" data-type="boolean"><option></option><option>true</option><option>false</option></select>`;
            const type = property.type === "integer" || property.type === "number" ? "number" : "text";
            // Objects and arrays (http's headers) are typed as JSON.
            const hint = property.type === "object" ? '{"Name": "value"}' : property.type === "array" ? "[…]" : property.default ?? "";
            return label + `<input id="${id}" type="${type}" step="any" data-type="${esc(property.type || "string")}" placeholder="${esc(hint)}">`;
          }).join("");
        }
        $("run-agent").onchange = renderModules;
        $("run-module").onchange = renderFields;
        $("run").onsubmit = async event => {
          event.preventDefault();
          const input = {};
          for (const field of $("run-fields").querySelectorAll("input,select")) {
            const name = field.id.slice(6), value = field.value.trim();
            if (value === "") continue;
            const type = field.dataset.type;
            if (type === "object" || type === "array") {
              try { input[name] = JSON.parse(value); } catch { $("run-result").textContent = `${name}: not JSON`; return; }
              continue;
            }
            input[name] = type === "number" || type === "integer" ? Number(value) : type === "boolean" ? value === "true" : value;
          }
          $("run-result").textContent = "running…";
          try {
            const response = await api(`/agent/${encodeURIComponent($("run-agent").value)}/${encodeURIComponent($("run-module").value)}?wait=30`,
              {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(input)});
            $("run-result").textContent = JSON.stringify(await response.json(), null, 2);
          } catch (error) { $("run-result").textContent = String(error); }
        };

        const feed = [];
        function addResult(result) {
          if (feed.some(r => r.id === result.id)) return;
          feed.unshift(result);
          feed.sort((a, b) => b.at_ms - a.at_ms);
          feed.length = Math.min(feed.length, 100);
          $("feed").innerHTML = feed.map(r => {
            const output = r.output ? JSON.stringify(r.output) : (r.error || "");
            return `<div id="result-${esc(r.id)}"><span class="muted">${new Date(r.at_ms).toLocaleTimeString()}</span> ` +
              `<b>${esc(r.agent_id)}</b> ${esc(r.module)} <span class="${esc(r.state)}">${esc(r.state)}</span> ` +
              `<code>${esc(r.id)}</code> <span class="muted">${esc(output.slice(0, 160))}</span></div>`;
          }).join("");
          addRTT(result);
        }

        const series = {};
        const colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];
        function addRTT(result) {
          const output = result.output || {};
          const rtt = output.avg_ms;
          const target = output.port ? `${output.host}:${output.port}` : output.host;
          if (typeof rtt !== "number" || !target) return;
          const key = `${result.agent_id} → ${target}`;
          (series[key] ||= []).push([result.at_ms, rtt]);
          series[key].sort((a, b) => a[0] - b[0]);
          drawChart();
        }
        // A chart's axes over these times and values (the highest labelled), and the scales that place points on it.
        function frame(times, highest, digits) {
          const [t0, t1] = [Math.min(...times), Math.max(...times)];
          const top = highest * 1.1 || 1;
          return {
            x: t => 40 + (t1 > t0 ? (t - t0) / (t1 - t0) : 0.5) * 940,
            y: v => 240 - v / top * 220,
            svg: `<line x1="40" y1="240" x2="990" y2="240" stroke="#999"/><line x1="40" y1="20" x2="40" y2="240" stroke="#999"/>` +
              `<text x="0" y="24" font-size="12">${top.toFixed(digits)}</text><text x="0" y="240" font-size="12">0</text>`,
          };
        }
        function drawChart() {
          const keys = Object.keys(series);
          if (!keys.length) return;
          const points = keys.flatMap(k => series[k]);
          let {x, y, svg} = frame(points.map(p => p[0]), Math.max(...points.map(p => p[1])), 3);
          keys.forEach((key, i) => {
            const color = colors[i % colors.length];
            const path = series[key].map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
            svg += `<polyline fill="none" stroke="${color}" stroke-width="2" points="${path}"/>` +
              series[key].map(([t, v]) => `<circle cx="${x(t).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${color}"/>`).join("");
          });
          $("chart").innerHTML = svg;
          $("legend").innerHTML = keys.map((k, i) => `<span style="color:${colors[i % colors.length]}">■</span> ${esc(k)}`).join(" &nbsp; ");
        }

        // GET /history drawn as p50 (solid) and p95 (dashed) per group; the archive being off is said as the server says it.
        async function showHistory(extra = {}) {
          const query = new URLSearchParams({module: $("history-module").value});
          for (const [name, id] of [["target", "history-target"], ["country", "history-country"], ["group_by", "history-group"]]) {
            if ($(id).value) query.set(name, $(id).value);
          }
          const now = Math.floor(Date.now() / 1000);
          query.set("from", now - Number($("history-range").value));
          query.set("to", now);
          for (const [name, value] of Object.entries(extra)) query.set(name, value);
          const response = await api("/history?" + query);
          const body = await response.json();
          if (!response.ok) {
            $("history-chart").innerHTML = "";
            $("history-legend").textContent = body.detail || body.title || response.statusText;
            return;
          }
          const lines = (body.series || []).map((s, i) => ({name: s.group ?? "all", color: colors[i % colors.length],
            points: s.points.filter(p => p.rtt_ms).map(p => [Date.parse(p.time), p.rtt_ms.p50, p.rtt_ms.p95])}));
          const all = lines.flatMap(l => l.points);
          if (!all.length) {
            $("history-chart").innerHTML = "";
            $("history-legend").textContent = `no archived ${body.module} runs with RTTs in this range`;
            return;
          }
          let {x, y, svg} = frame(all.map(p => p[0]), Math.max(...all.map(p => p[2])), 2);
          for (const line of lines) {
            const path = index => line.points.map(p => `${x(p[0]).toFixed(1)},${y(p[index]).toFixed(1)}`).join(" ");
            svg += `<polyline class="p50" fill="none" stroke="${line.color}" stroke-width="2" points="${path(1)}"/>` +
              `<polyline class="p95" fill="none" stroke="${line.color}" stroke-width="1" stroke-dasharray="4 3" points="${path(2)}"/>`;
          }
          $("history-chart").innerHTML = svg;
          $("history-legend").innerHTML = `${esc(body.module)}, step ${body.step_seconds} s: ` +
            lines.map(l => `<span class="history-series" style="color:${l.color}">■ ${esc(l.name)}</span>`).join(" &nbsp; ");
        }
        $("history").addEventListener("submit", event => { event.preventDefault(); showHistory().catch(error => { $("history-legend").textContent = String(error); }); });

        async function loadRecentResults() {
          for (const agent of agents) {
            const since = Date.now() - 3600 * 1000;
            const page = await (await api(`/agents/${encodeURIComponent(agent.agent_id)}/results?limit=50&since=${since}`)).json();
            for (const r of page.results || []) {
              addResult({id: r.id, agent_id: r.agent_id, module: r.module, state: r.state, at_ms: r.finished_at_ms || r.received_at_ms, output: r.result});
            }
          }
        }

        async function follow() {
          while (true) {
            try {
              const response = await api("/live/events?kind=result,agent,heartbeats");
              $("live").textContent = "live: on";
              const reader = response.body.getReader();
              const decoder = new TextDecoder();
              let buffer = "";
              while (true) {
                const {value, done} = await reader.read();
                if (done) break;
                buffer += decoder.decode(value, {stream: true});
                let end;
                while ((end = buffer.indexOf("\\n\\n")) >= 0) {
                  const block = buffer.slice(0, end);
                  buffer = buffer.slice(end + 2);
                  if (!block.startsWith("data: ")) continue;
                  const event = JSON.parse(block.slice(6));
                  if (event.kind === "result") addResult(event);
                  if (event.kind === "heartbeats") for (const id of event.agent_ids || []) lastHeard[id] = Date.now();
                  if (event.kind === "agent") loadAgents();
                }
              }
            } catch (error) { /* reconnect below */ }
            $("live").textContent = "live: reconnecting";
            await new Promise(resolve => setTimeout(resolve, 2000));
          }
        }

        // A link such as /#measure?tag=eyeball&module=ping_module&input={"host":"example.com"}&limit=5 fills
        // the many-agents form and runs it, so a measurement can be bookmarked or shared.
        function measureFromLink() {
          if (!location.hash.startsWith("#measure?")) return;
          const wanted = new URLSearchParams(location.hash.slice(9));
          for (const name of ["country", "asn", "tag", "limit", "input"]) if (wanted.has(name)) $("many-" + name).value = wanted.get(name);
          if (wanted.has("module")) { renderManyForm(); $("many-module").value = wanted.get("module"); }
          $("many").requestSubmit();
        }
        // /#history?module=ping_module&group_by=agent&from=…&to=…&step=1h draws that history at once.
        function historyFromLink() {
          if (!location.hash.startsWith("#history?")) return;
          const wanted = new URLSearchParams(location.hash.slice(9));
          for (const name of ["module", "target", "country"]) if (wanted.has(name)) $("history-" + name).value = wanted.get(name);
          if (wanted.has("group_by")) $("history-group").value = wanted.get("group_by");
          const extra = {};
          for (const name of ["from", "to", "step"]) if (wanted.has(name)) extra[name] = wanted.get(name);
          return showHistory(extra);
        }
        loadAgents().then(measureFromLink).then(historyFromLink).then(loadRecentResults).catch(error => { $("status").textContent = String(error); });
        setInterval(() => loadAgents().catch(() => {}), 5000);
        setInterval(renderAgents, 1000);
        follow();
        </script></body></html>
        """
}
