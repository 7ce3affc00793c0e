import { importFiles } from '../../src/ehr/importFiles.ts';
import { sharedDataDir } from '../../src/fhir/testing/sharedData.ts';
import { startTestNode } from '../../src/fhir/testing/startTestNode.ts';

const pg = process.argv[2] === 'postgres';
const t = await startTestNode(
  pg
    ? {
        env: {
          DATABASE_URL: `postgres://postgres@127.0.0.1:5432/test?options=-c%20search_path%3D${process.env.SCHEMA}`,
        },
      }
    : {},
);
try {
  const s = await importFiles(t.node, [sharedDataDir('synthea')]);
  process.stderr.write(`imported ${s.resources}\n`);
  const admin = await t.bearer({ kind: 'system', scope: 'system/*.rs', lifetimeSeconds: 7200 });
  const get = async (path: string) => {
    const r = await fetch(`${t.fhirUrl}/${path}`, { headers: { authorization: admin } });
    const b = await r.json();
    if (r.status !== 200) throw new Error(`${path}: ${r.status} ${JSON.stringify(b)}`);
    return b as any;
  };
  const pats = await get('Patient?_count=100&_elements=id,name');
  const rows = await t.node.db.query<{ resource_id: string; n: number }>(`SELECT 1 as resource_id, 1 as n`);
  void rows;
  const patient = pats.entry[0].resource;
  const pid = patient.id;
  const family = patient.name[0].family;
  const obs = await get(`Observation?patient=${pid}&_count=1000`);
  const codes = new Map<string, number>();
  for (const e of obs.entry ?? []) {
    const c = e.resource.code.coding[0];
    const k = `${c.system}|${c.code}`;
    codes.set(k, (codes.get(k) ?? 0) + 1);
  }
  const [code, n] = [...codes.entries()].sort((a, b) => b[1] - a[1])[0]!;
  process.stderr.write(`patient ${pid} ${family} obs ${obs.entry?.length} code ${code} x${n}\n`);
  if (process.env.EXPLAIN) {
    const { searchIndexKeyFor } = await import('../../src/fhir/search/SearchIndexKey.ts');
    const key = await searchIndexKeyFor(t.node.config.dataDir);
    const [sys, c] = code.split('|');
    const vals = [
      key.blind('Observation', 'patient', `ref:Patient/${pid}`),
      key.blind('Observation', 'code', `tok:${sys}|${c!.toLowerCase()}`),
    ];
    const sqlText = `SELECT DISTINCT d.resource_id FROM fhir_search_index d
WHERE d.value = ANY($1::text[]::bytea[])
AND EXISTS (SELECT 1 FROM fhir_search_index x WHERE x.value = ANY($2::text[]::bytea[])
  AND x.resource_id = d.resource_id OFFSET 0)
ORDER BY d.resource_id`;
    await t.node.db.query(`PREPARE pp(text[], text[]) AS ${sqlText}`);
    await t.node.db.query(`SET plan_cache_mode = force_generic_plan`);
    const lit = (v: Buffer) => `ARRAY['\\x${v.toString('hex')}']`;
    const rows = await t.node.db.query<any>(`EXPLAIN ANALYZE EXECUTE pp(${lit(vals[0]!)}, ${lit(vals[1]!)})`);
    await t.node.db.query(`SET plan_cache_mode = auto`);
    process.stderr.write(rows.map((r: any) => r['QUERY PLAN']).join('\n') + '\n');
    const n = await t.node.db.query<any>('SELECT count(*)::int AS n FROM fhir_search_index');
    process.stderr.write(`index rows ${n[0].n}\n`);
  }
  const queries = {
    obsPatientCode: `Observation?patient=${pid}&code=${code}`,
    patientName: `Patient?name=${encodeURIComponent(family)}`,
    encounterSorted: `Encounter?patient=${pid}&_sort=-date&_count=20`,
    none: `Observation?patient=${pid}&code=http://loinc.org|0000-0`,
    count: `Observation?patient=${pid}&_summary=count`,
  } as Record<string, string>;
  for (const [name, q] of Object.entries(queries)) {
    const samples: number[] = [];
    let entries = 0;
    for (let i = 0; i < 40; i++) {
      const t0 = performance.now();
      const b = await get(q);
      samples.push(performance.now() - t0);
      entries = b.entry?.length ?? 0;
    }
    samples.sort((a, b) => a - b);
    process.stderr.write(`${name}: p50 ${samples[20]!.toFixed(2)} ms entries ${entries}\n`);
  }
  const stats = new Map<string, { n: number; ms: number }>();
  let on = false;
  const wrap = (q: any) => {
    const orig = q.query.bind(q);
    q.query = async (sql: any, params: any) => {
      const t0 = performance.now();
      try {
        return await orig(sql, params);
      } finally {
        if (on) {
          const k = (typeof sql === 'string' ? sql : sql.text).replace(/\s+/g, ' ').slice(0, 110);
          const s = stats.get(k) ?? { n: 0, ms: 0 };
          s.n++;
          s.ms += performance.now() - t0;
          stats.set(k, s);
        }
      }
    };
  };
  const db = t.node.db as any;
  wrap(db);
  const origTx = db.transaction.bind(db);
  db.transaction = (fn: any) =>
    origTx((tx: any) => {
      wrap(tx);
      return fn(tx);
    });
  if (process.env.LOOP) {
    const q = queries[process.env.LOOP]!;
    process.stderr.write(`LOOPSTART ${process.hrtime.bigint() / 1000n}\n`);
    on = true;
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) await get(q);
    process.stderr.write(`LOOPEND ${process.hrtime.bigint() / 1000n}\n`);
    process.stderr.write(
      `loop ${process.env.LOOP}: ${((performance.now() - t0) / 200).toFixed(2)} ms each\n`,
    );
    on = false;
    for (const [k, v] of [...stats.entries()].sort((a, b) => b[1].ms - a[1].ms))
      process.stderr.write(`${(v.ms / 200).toFixed(2)} ms/req ${(v.n / 200).toFixed(1)}x ${k}\n`);
  }
} finally {
  await t.stop();
}
process.exit(0);
