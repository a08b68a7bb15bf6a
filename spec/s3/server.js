// spec/s3/server.js: s3rver (a local S3-compatible server) on 127.0.0.1,
// an ephemeral port, for spec/upload_spec.lua.
//   node spec/s3/server.js DIR BUCKET...   prints "listening on PORT"
//
// s3rver checks the access key id and a presigned URL's expiry but not
// SigV4 signatures themselves, so the middleware below does, with Node's
// crypto (an implementation independent of libcurl's and runtime/net/sigv4.c):
// header-signed requests (the PUT libcurl signs) and presigned URLs
// (X-Amz-Signature in the query). Credentials: s3rver's default key pair,
// access key id S3RVER, secret S3RVER.
'use strict';
const crypto = require('crypto');
const S3rver = require('s3rver');

const SECRETS = { S3RVER: 'S3RVER' };

const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');
const hmac = (key, s) => crypto.createHmac('sha256', key).update(s).digest();

function canonicalQuery(raw, drop) {
  return raw
    .split('&')
    .filter((p) => p !== '' && !p.startsWith(`${drop}=`))
    .map((p) => (p.includes('=') ? p : `${p}=`))
    .sort()
    .join('&');
}

// The signature the request should carry, or null when it is not SigV4.
function expected(ctx) {
  const auth = ctx.get('authorization');
  let credential, signedHeaders, provided, stamp, payload, query;
  if (auth.startsWith('AWS4-HMAC-SHA256 ')) {
    const f = Object.fromEntries(
      auth.slice(17).split(/,\s*/).map((kv) => kv.split('=')),
    );
    [credential, signedHeaders, provided] = [f.Credential, f.SignedHeaders, f.Signature];
    stamp = ctx.get('x-amz-date');
    payload = ctx.get('x-amz-content-sha256');
    query = canonicalQuery(ctx.querystring, '\0');
  } else if (ctx.query['X-Amz-Signature']) {
    credential = ctx.query['X-Amz-Credential'];
    signedHeaders = ctx.query['X-Amz-SignedHeaders'];
    provided = ctx.query['X-Amz-Signature'];
    stamp = ctx.query['X-Amz-Date'];
    payload = 'UNSIGNED-PAYLOAD';
    query = canonicalQuery(ctx.querystring, 'X-Amz-Signature');
  } else {
    return null;
  }
  const [key, date, region, service] = credential.split('/');
  if (!(key in SECRETS)) {
    return null; // s3rver answers InvalidAccessKeyId
  }
  const headers = signedHeaders
    .split(';')
    .map((h) => `${h}:${ctx.get(h).trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const canonical = [ctx.method, ctx.path, query, headers, signedHeaders, payload].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', stamp, scope, sha256(canonical)].join('\n');
  let k = hmac(`AWS4${SECRETS[key]}`, date);
  k = hmac(k, region);
  k = hmac(k, service);
  k = hmac(k, 'aws4_request');
  return { provided, want: crypto.createHmac('sha256', k).update(toSign).digest('hex') };
}

async function verifySigV4(ctx, next) {
  const sig = expected(ctx);
  if (sig && sig.provided !== sig.want) {
    ctx.status = 403;
    ctx.type = 'application/xml';
    ctx.body =
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code>' +
      '<Message>The request signature we calculated does not match the signature you ' +
      'provided. Check your key and signing method.</Message></Error>';
    return;
  }
  await next();
}

// s3rver lacks AbortMultipartUpload (DELETE /bucket/key?uploadId=ID) and
// the GET /bucket?uploads listing; these stand in for both, on its own
// file store: an upload's parts live in <bucket>/<...uploads>/<ID>/ until
// it is completed or aborted. The listing answers the number of uploads
// still holding parts, as plain text, for the specs; GET /_parts the number
// of UploadPart requests seen.
const fs = require('fs');
const path = require('path');
function uploadsDir(ctx, bucket) {
  return ctx.app.context.store.getResourcePath(bucket, undefined, 'uploads');
}
let partsSeen = 0; // UploadPart requests, answered at GET /_parts
async function multipartExtras(ctx, next) {
  if (ctx.method === 'GET' && ctx.path === '/_parts') {
    ctx.type = 'text/plain';
    ctx.body = String(partsSeen);
    return;
  }
  if (ctx.method === 'PUT' && ctx.query.partNumber !== undefined) {
    partsSeen += 1;
  }
  const m = ctx.path.match(/^\/([^/]+)(\/.*)?$/);
  if (m && ctx.method === 'DELETE' && m[2] && ctx.query.uploadId !== undefined) {
    const dir = path.join(uploadsDir(ctx, m[1]), path.basename(ctx.query.uploadId));
    if (!fs.existsSync(dir)) {
      ctx.status = 404;
      ctx.type = 'application/xml';
      ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload</Code>' +
        '<Message>The specified upload does not exist.</Message></Error>';
      return;
    }
    fs.rmSync(dir, { recursive: true, force: true });
    // A part whose request the client stopped may still be written after
    // the abort (S3 documents the same: abort again once parts in progress
    // end); the stand-in clears such late parts itself.
    setTimeout(() => fs.rmSync(dir, { recursive: true, force: true }), 500);
    ctx.status = 204;
    return;
  }
  // A fault for the specs: part 2 of a key holding "fail-part" is refused.
  if (m && ctx.method === 'PUT' && m[2] && m[2].includes('fail-part') &&
      ctx.query.uploadId !== undefined && ctx.query.partNumber === '2') {
    ctx.status = 400;
    ctx.type = 'application/xml';
    ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InvalidRequest</Code>' +
      '<Message>part 2 refused by the test server</Message></Error>';
    return;
  }
  // Another: part 2 of a key holding "no-etag" is answered 200 without an
  // ETag (a broken proxy or store).
  if (m && ctx.method === 'PUT' && m[2] && m[2].includes('no-etag') &&
      ctx.query.uploadId !== undefined && ctx.query.partNumber === '2') {
    ctx.status = 200;
    ctx.body = '';
    return;
  }
  if (m && ctx.method === 'GET' && !m[2] && ctx.query.uploads !== undefined) {
    const dir = uploadsDir(ctx, m[1]);
    ctx.type = 'text/plain';
    ctx.body = String(fs.existsSync(dir) ? fs.readdirSync(dir).length : 0);
    return;
  }
  await next();
}

// S3 keeps a key's '.' and '..' segments as part of the key; s3rver's
// file store would resolve them on disk and put the object elsewhere. The
// stand-in names such segments %2E on disk (and a literal '%' %25), so an
// object keyed "../x" stays in its bucket under that key, as on S3.
const FilesystemStore = require('s3rver/lib/stores/filesystem');
FilesystemStore.encodeKeyPath = (key) => key.split('/').map((s) =>
  (s === '.' || s === '..' ? s.replace(/\./g, '%2E') : s.replace(/%/g, '%25'))).join('/');
FilesystemStore.decodeKeyPath = (keyPath) => keyPath.split('/').map((s) =>
  (s === '%2E' || s === '%2E%2E' ? s.replace(/%2E/g, '.') : s.replace(/%25/g, '%'))).join('/');

// The request lines seen ("PUT /bucket/key", the path exactly as sent, no
// query), the latest 100, answered at GET /_requests, one a line.
const requestLines = [];
async function recordRequests(ctx, next) {
  if (ctx.path === '/_requests') {
    ctx.type = 'text/plain';
    ctx.body = requestLines.join('\n');
    return;
  }
  requestLines.push(`${ctx.method} ${ctx.req.url.split('?')[0]}`);
  if (requestLines.length > 100) {
    requestLines.shift();
  }
  await next();
}

const [dir, ...buckets] = process.argv.slice(2);
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory: dir,
  configureBuckets: buckets.map((name) => ({ name })),
});
server.middleware.unshift(multipartExtras);
server.middleware.unshift(verifySigV4);
server.middleware.unshift(recordRequests);
server.run().then(
  (info) => console.log(`listening on ${info.port}`),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
// A request the client stops mid-body (a multipart upload aborting its
// parts) can make s3rver fail a write it no longer awaits: the stand-in
// logs it and goes on serving the specs that follow.
process.on('uncaughtException', (err) => console.error('s3 stand-in:', err));
process.on('unhandledRejection', (err) => console.error('s3 stand-in:', err));
const stop = () => server.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
