import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EmulatorCore } from '../engine/core.ts';
import { LOG_BYTES_MAX } from '../engine/logs.ts';
import type { GroupRecord } from '../engine/model.ts';

/**
 * The emulator's web console, at its admin URL (`/_emulator/`): what a person wants to see of the
 * emulated cloud — container groups with state, zone and IP; zones, vSwitches and stock; recent
 * events; a container's log; quotas and active faults — kept live by a server-sent event stream.
 * One static page and two JSON views of the core; no framework, so it loads from an emulator with no
 * network. Loopback only, like the rest of the admin API.
 */

const MAX_GROUPS = 500;
const MAX_EVENTS = 100;

/** Everything the page shows, as one JSON document. */
export function consoleSnapshot(core: EmulatorCore) {
  const groups = core.listGroups().sort((a, b) => b.seq - a.seq);
  const events = groups
    .flatMap((g) => g.events.map((e) => ({ group: g.id, groupName: g.name, ...e })))
    .sort((a, b) => b.last - a.last)
    .slice(0, MAX_EVENTS);
  return {
    regionId: core.config.region.id,
    now: core.now(),
    groups: groups.slice(0, MAX_GROUPS).map((g) => summary(g)),
    totalGroups: groups.length,
    zones: core.zones(),
    events,
    quotas: core.quotaState(),
    faults: core.listFaults(),
  };
}

function summary(g: GroupRecord) {
  return {
    id: g.id,
    name: g.name,
    status: g.status,
    zone: g.zoneId,
    vSwitch: g.vSwitchId,
    ip: g.ip,
    createdAt: g.createdAt,
    tags: Object.fromEntries(g.tags.map((t) => [t.key, t.value])),
    containers: g.containers.map((c, i) => ({
      name: c.name,
      image: g.spec.containers[i]?.image ?? '',
      state: c.state,
      ready: c.ready,
      restartCount: c.restartCount,
      reason: c.reason,
    })),
  };
}

/** The container's log as DescribeContainerLog would answer it (last 500 lines), from the group's runtime. */
export async function containerLog(core: EmulatorCore, groupId: string, container: string): Promise<string> {
  const g = core.getGroup(groupId);
  if (!g.spec.containers.some((c) => c.name === container)) return '';
  return core.runtime.logs(g, container, {
    previous: false,
    tail: 500,
    limitBytes: LOG_BYTES_MAX,
    timestamps: true,
    now: core.now(),
  });
}

/** Streams a snapshot whenever it changed, at most once a second, until the client goes. */
export function streamSnapshots(req: IncomingMessage, res: ServerResponse, snapshot: () => unknown): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-store',
    connection: 'keep-alive',
  });
  let last = '';
  const send = () => {
    const { now: _now, ...rest } = snapshot() as { now: number };
    const body = JSON.stringify(rest);
    if (body === last) return;
    last = body;
    res.write(`data: ${body}\n\n`);
  };
  send();
  const timer = setInterval(send, 1000);
  req.on('close', () => clearInterval(timer));
}

export const CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ECI emulator</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px system-ui, sans-serif; margin: 0; color: #1d2330; background: #f5f6f8; }
  header { background: #ff6a00; color: #fff; padding: 10px 18px; display: flex; gap: 18px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  #live { font-size: 12px; opacity: .9; }
  main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 14px; padding: 14px; }
  section { background: #fff; border-radius: 6px; padding: 10px 12px; box-shadow: 0 1px 2px #0002; overflow: auto; }
  h2 { font-size: 14px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eceef2; white-space: nowrap; }
  th { font-weight: 600; color: #5b6475; }
  tr.group { cursor: pointer; } tr.group:hover, tr.selected { background: #fff2e8; }
  .status { padding: 1px 6px; border-radius: 8px; font-size: 12px; background: #e8eaef; }
  .Running, .Succeeded { background: #dff5e3; } .Pending, .Scheduling, .Restarting { background: #fff4d6; }
  .Failed, .Expired { background: #fde1e1; } .Warning { color: #b3261e; }
  pre { background: #14171f; color: #dfe3ea; padding: 8px; border-radius: 4px; max-height: 260px; overflow: auto; font-size: 12px; }
  .wide { grid-column: 1 / -1; } .muted { color: #8a93a5; }
</style>
</head>
<body>
<header><h1>ECI emulator</h1><span id="region"></span><span id="live">connecting…</span></header>
<main>
  <section><h2>Container groups <span class="muted" id="count"></span></h2>
    <table id="groups"><thead><tr><th>Name</th><th>ID</th><th>Status</th><th>Zone</th><th>IP</th><th>Containers</th></tr></thead><tbody></tbody></table>
  </section>
  <section><h2>Zones, vSwitches and stock</h2>
    <table id="zones"><thead><tr><th>Zone</th><th>Stock</th><th>Live</th><th>vSwitch</th><th>CIDR</th><th>IPs used</th></tr></thead><tbody></tbody></table>
    <h2 style="margin-top:12px">Quotas <span class="muted" id="quota-state"></span></h2>
    <table id="quotas"><tbody></tbody></table>
    <h2 style="margin-top:12px">Active faults</h2>
    <table id="faults"><tbody></tbody></table>
  </section>
  <section class="wide" id="detail"><h2>Container log <span class="muted" id="log-title">(select a group)</span></h2><pre id="log"></pre></section>
  <section class="wide"><h2>Events</h2>
    <table id="events"><thead><tr><th>Last seen</th><th>Group</th><th>Type</th><th>Reason</th><th>Message</th><th>Count</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<script>
const base = location.pathname.replace(/\\/(console)?$/, '');
let selected = null;
const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const time = (ms) => new Date(ms).toISOString().slice(11, 19);
function render(s) {
  document.getElementById('region').textContent = s.regionId;
  document.getElementById('count').textContent = '(' + s.totalGroups + ')';
  document.querySelector('#groups tbody').innerHTML = s.groups.map((g) =>
    '<tr class="group' + (g.id === selected ? ' selected' : '') + '" data-id="' + esc(g.id) + '" data-container="' + esc(g.containers[0]?.name) + '">' +
    '<td>' + esc(g.name) + '</td><td>' + esc(g.id) + '</td><td><span class="status ' + esc(g.status) + '">' + esc(g.status) + '</span></td>' +
    '<td>' + esc(g.zone) + '</td><td>' + esc(g.ip) + '</td><td>' +
    g.containers.map((c) => esc(c.name) + ' ' + esc(c.state) + (c.restartCount ? ' (' + c.restartCount + ' restarts)' : '')).join(', ') + '</td></tr>').join('');
  document.querySelector('#zones tbody').innerHTML = s.zones.flatMap((z) => z.vSwitches.map((v, i) =>
    '<tr>' + (i === 0 ? '<td rowspan="' + z.vSwitches.length + '">' + esc(z.id) + '</td><td rowspan="' + z.vSwitches.length + '">' + (z.stock === null ? 'unlimited' : esc(z.stock)) + '</td><td rowspan="' + z.vSwitches.length + '">' + esc(z.live) + '</td>' : '') +
    '<td>' + esc(v.id) + '</td><td>' + esc(v.cidr) + '</td><td>' + esc(v.used) + ' / ' + esc(v.capacity) + '</td></tr>')).join('');
  document.getElementById('quota-state').textContent = s.quotas.enabled ? '(enforced, per minute)' : '(off)';
  document.querySelector('#quotas tbody').innerHTML = Object.entries(s.quotas.perMinute).map(([a, n]) => '<tr><td>' + esc(a) + '</td><td>' + esc(n) + '</td></tr>').join('');
  document.querySelector('#faults tbody').innerHTML = s.faults.length
    ? s.faults.map((f) => '<tr><td>' + esc(f.id) + '</td><td>' + esc(JSON.stringify(f)) + '</td></tr>').join('')
    : '<tr><td class="muted">none</td></tr>';
  document.querySelector('#events tbody').innerHTML = s.events.map((e) =>
    '<tr><td>' + time(e.last) + '</td><td>' + esc(e.groupName) + '</td><td class="' + esc(e.type) + '">' + esc(e.type) + '</td><td>' + esc(e.reason) + '</td><td>' + esc(e.message) + '</td><td>' + esc(e.count) + '</td></tr>').join('');
  if (selected) showLog(selected.id, selected.container);
}
async function showLog(id, container) {
  selected = { id, container };
  document.getElementById('log-title').textContent = id + ' / ' + container;
  const r = await fetch(base + '/container-groups/' + encodeURIComponent(id) + '/containers/' + encodeURIComponent(container) + '/log');
  document.getElementById('log').textContent = r.ok ? await r.text() : '(no log: ' + r.status + ')';
}
document.querySelector('#groups').addEventListener('click', (ev) => {
  const tr = ev.target.closest('tr.group');
  if (tr) showLog(tr.dataset.id, tr.dataset.container);
});
const es = new EventSource(base + '/console/stream');
es.onmessage = (m) => { render(JSON.parse(m.data)); document.getElementById('live').textContent = 'live · updated ' + new Date().toLocaleTimeString(); };
es.onerror = () => { document.getElementById('live').textContent = 'disconnected; retrying…'; };
</script>
</body>
</html>
`;
