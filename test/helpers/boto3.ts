/**
 * boto3 (Debian `python3-boto3`, or any python3 on PATH that imports boto3) driven from the tests:
 * one small Python program per call, JSON in on stdin, JSON out on stdout, bounded by a timeout.
 */
import { execFile, execFileSync } from 'node:child_process'
import { describe } from 'vitest'
import { findOnPath, missing } from './clients.ts'
import type { TestServer } from './server.ts'

const PROGRAM = `
import json, sys
import boto3, botocore
from botocore.config import Config
from botocore.exceptions import ClientError

a = json.load(sys.stdin)
cfg = Config(signature_version=a.get('signature_version', 's3v4'), s3={'addressing_style': 'path'},
             retries={'max_attempts': 1, 'mode': 'standard'}, connect_timeout=10, read_timeout=60)
s3 = boto3.client('s3', endpoint_url=a['endpoint'], region_name=a['region'], aws_access_key_id=a['ak'],
                  aws_secret_access_key=a['sk'], verify=a['ca'], config=cfg)
out = {}
try:
    if a['op'] == 'presign':
        params = {'Bucket': a['bucket'], 'Key': a['key']}
        params.update(a.get('params', {}))
        out['url'] = s3.generate_presigned_url(a['method'], Params=params, ExpiresIn=a.get('expires', 3600))
    elif a['op'] == 'presign_post':
        r = s3.generate_presigned_post(a['bucket'], a['key'], Fields=a.get('fields'),
                                       Conditions=a.get('conditions'), ExpiresIn=a.get('expires', 3600))
        out['url'] = r['url']
        out['fields'] = r['fields']
    elif a['op'] == 'put':
        extra = a.get('extra', {})
        if 'SSECustomerKey' in extra:
            extra['SSECustomerKey'] = bytes.fromhex(extra['SSECustomerKey'])
        body = bytes([0x61 + i % 26 for i in range(64)]) * (a['size'] // 64)
        r = s3.put_object(Bucket=a['bucket'], Key=a['key'], Body=body, **extra)
        out['etag'] = r['ETag']
    elif a['op'] == 'get':
        r = s3.get_object(Bucket=a['bucket'], Key=a['key'])
        out['body'] = r['Body'].read().decode('latin-1')
    out['ok'] = True
except ClientError as e:
    out['error'] = e.response.get('Error', {}).get('Code')
    out['status'] = e.response.get('ResponseMetadata', {}).get('HTTPStatusCode')
except Exception as e:
    out['exception'] = type(e).__name__ + ': ' + str(e)
print(json.dumps(out))
`

export interface Boto3Result {
  ok?: boolean
  url?: string
  /** presign_post: the form fields to send before the file. */
  fields?: Record<string, string>
  etag?: string
  body?: string
  /** The S3 error code boto3 parsed from the response. */
  error?: string
  status?: number
  /** Anything else boto3 raised (a connection error: what a client must never see for an S3 refusal). */
  exception?: string
}

export interface Boto3Call {
  op: 'presign' | 'presign_post' | 'put' | 'get'
  /** presign_post: fields and conditions as boto3's generate_presigned_post takes them. */
  fields?: Record<string, string>
  conditions?: unknown[]
  bucket: string
  key: string
  /** 's3' is SigV2 (what boto3 called the legacy signer); default 's3v4'. */
  signature_version?: 's3' | 's3v4'
  method?: 'get_object' | 'put_object'
  expires?: number
  params?: Record<string, string>
  size?: number
  extra?: Record<string, string>
  /** Override the server's credentials. */
  ak?: string
  sk?: string
}

/** Runs one boto3 call against `server` (`caFile`: the server's CA written to disk). */
export function boto3(python: string, server: TestServer, caFile: string, call: Boto3Call): Promise<Boto3Result> {
  const input = JSON.stringify({
    endpoint: server.endpoint,
    region: server.region,
    ak: server.accessKeyId,
    sk: server.secretAccessKey,
    ca: caFile,
    ...call,
  })
  return new Promise((resolve, reject) => {
    const child = execFile(python, ['-c', PROGRAM], { timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`python3 boto3 failed: ${err.message}\n${stderr}`))
      else resolve(JSON.parse(stdout) as Boto3Result)
    })
    child.stdin!.end(input)
  })
}

function importsBoto3(python: string): boolean {
  try {
    execFileSync(python, ['-c', 'import boto3'], { stdio: 'ignore', timeout: 30_000 })
    return true
  } catch {
    return false
  }
}

/** Like describeWithClient('python3'), and boto3 must import (Debian python3-boto3). */
export function describeWithBoto3(title: string, body: (python: string) => void): void {
  const python = findOnPath('python3')
  if (python && importsBoto3(python)) describe(title, () => body(python))
  else missing(title, `python3 with boto3 is not on PATH (${process.env.PATH ?? ''}); install python3-boto3`)
}
