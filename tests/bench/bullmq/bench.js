#!/usr/bin/env node
// BullMQ baseline for tests/bench/queue_bench.py: the same job count, the same three
// measurements, median of the runs, in jobs/s.
//
//   node bench.js --redis-url redis://127.0.0.1:6379/0 [--jobs 20000] [--runs 3] [--json]
//   node bench.js --redis-url redis+cluster://127.0.0.1:7000,127.0.0.1:7001 ...   (a cluster)
//
// On a Redis Cluster the queue's keys share the hash tag `{bull}` (BullMQ's documented
// prefix for clusters), every connection is an ioredis Cluster, and "flushed" means every
// master is flushed.
//
// Every run starts from a flushed database (FLUSHDB on the given db: use a private Redis):
//   add_50_in_flight  queue.add, 50 calls in flight, until all are acknowledged
//   add_bulk          queue.addBulk in batches of 500, one batch after the other
//   worker            a no-op Worker at concurrency 50 (removeOnComplete, so the completed
//                     set stays empty), timed from run() until it completed every job
//                     added by addBulk
'use strict';

const { parseArgs } = require('node:util');
const { Queue, Worker } = require('bullmq');
const IORedis = require('ioredis');

const QUEUE = 'bench';
const CLUSTER_PREFIX = '{bull}';

function options() {
  const { values } = parseArgs({
    options: {
      'redis-url': { type: 'string' },
      jobs: { type: 'string', default: '20000' },
      runs: { type: 'string', default: '3' },
      batch: { type: 'string', default: '500' },
      'in-flight': { type: 'string', default: '50' },
      concurrency: { type: 'string', default: '50' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!values['redis-url']) {
    throw new Error('--redis-url is required (the database is flushed: use a private Redis)');
  }
  return {
    url: values['redis-url'],
    jobs: Number(values.jobs),
    runs: Number(values.runs),
    batch: Number(values.batch),
    inFlight: Number(values['in-flight']),
    concurrency: Number(values.concurrency),
    json: values.json,
  };
}

function isCluster(url) {
  return url.startsWith('redis+cluster://');
}

function connection(url) {
  if (isCluster(url)) {
    const nodes = url
      .slice('redis+cluster://'.length)
      .split('/')[0]
      .split(',')
      .map((hostPort) => {
        const [host, port] = hostPort.split(':');
        return { host, port: Number(port || 6379) };
      });
    // BullMQ duplicates this for its blocking worker connection.
    return new IORedis.Cluster(nodes, { redisOptions: { maxRetriesPerRequest: null } });
  }
  const parsed = new URL(url);
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  // Workers need maxRetriesPerRequest: null (their blocking calls must not time out).
  return { host: parsed.hostname, port: Number(parsed.port || 6379), db, maxRetriesPerRequest: null };
}

function queueOptions(conn) {
  return conn instanceof IORedis.Cluster ? { connection: conn, prefix: CLUSTER_PREFIX } : { connection: conn };
}

async function flush(admin) {
  if (admin instanceof IORedis.Cluster) {
    await Promise.all(admin.nodes('master').map((node) => node.flushall()));
  } else {
    await admin.flushdb();
  }
}

function perSecond(jobs, startedNs) {
  const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
  return jobs / seconds;
}

async function newQueue(conn) {
  const queue = new Queue(QUEUE, queueOptions(conn));
  await queue.waitUntilReady();
  return queue;
}

async function timeAddInFlight(conn, opts) {
  const queue = await newQueue(conn);
  let next = 0;
  const lane = async () => {
    while (next < opts.jobs) {
      const n = next++;
      await queue.add('job', { n });
    }
  };
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: opts.inFlight }, lane));
  const rate = perSecond(opts.jobs, started);
  await queue.close();
  return rate;
}

async function timeAddBulk(conn, opts) {
  const queue = await newQueue(conn);
  const started = process.hrtime.bigint();
  for (let start = 0; start < opts.jobs; start += opts.batch) {
    const end = Math.min(start + opts.batch, opts.jobs);
    const batch = [];
    for (let n = start; n < end; n++) batch.push({ name: 'job', data: { n } });
    await queue.addBulk(batch);
  }
  const rate = perSecond(opts.jobs, started);
  await queue.close();
  return rate;
}

async function timeWorker(conn, opts) {
  const worker = new Worker(QUEUE, async () => {}, {
    ...queueOptions(conn),
    concurrency: opts.concurrency,
    autorun: false,
    removeOnComplete: { count: 0 },
  });
  await worker.waitUntilReady();
  let completed = 0;
  const done = new Promise((resolve, reject) => {
    worker.on('completed', () => {
      completed += 1;
      if (completed === opts.jobs) resolve();
    });
    worker.on('failed', (job, err) => reject(err));
    worker.on('error', reject);
  });
  const started = process.hrtime.bigint();
  worker.run();
  await done;
  const rate = perSecond(opts.jobs, started);
  await worker.close();
  return rate;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function main() {
  const opts = options();
  const conn = connection(opts.url);
  const admin = conn instanceof IORedis.Cluster ? conn : new IORedis(conn);
  const prefix = conn instanceof IORedis.Cluster ? CLUSTER_PREFIX : 'bull';
  const runs = { add_50_in_flight: [], add_bulk: [], worker: [] };
  try {
    for (let run = 0; run < opts.runs; run++) {
      await flush(admin);
      runs.add_50_in_flight.push(await timeAddInFlight(conn, opts));
      await flush(admin);
      runs.add_bulk.push(await timeAddBulk(conn, opts));
      runs.worker.push(await timeWorker(conn, opts));
      const left = await admin.llen(`${prefix}:${QUEUE}:wait`);
      if (left !== 0) throw new Error(`${left} job(s) still waiting after the worker finished`);
    }
    await flush(admin);
  } finally {
    admin.disconnect();
  }
  const result = {
    implementation: 'bullmq',
    redis: isCluster(opts.url) ? 'cluster' : 'single',
    version: require('bullmq/package.json').version,
    node: process.version,
    jobs: opts.jobs,
    batch: opts.batch,
    in_flight: opts.inFlight,
    concurrency: opts.concurrency,
    runs,
    median: Object.fromEntries(Object.entries(runs).map(([key, list]) => [key, median(list)])),
  };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  console.log(`BullMQ ${result.version} (node ${result.node}), ${opts.jobs} jobs, median of ${opts.runs}:`);
  for (const [key, list] of Object.entries(runs)) {
    const each = list.map((rate) => rate.toFixed(0)).join(', ');
    console.log(`  ${key.padEnd(18)} ${result.median[key].toFixed(0).padStart(8)} jobs/s  (${each})`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
