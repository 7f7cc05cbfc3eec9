/**
 * S3's general-purpose bucket naming rules, as one pure predicate with the reason it failed.
 * Beyond the published list, S3 refuses a hyphen next to a period (`a.-b`, `a-.b`: 400
 * InvalidBucketName, as ceph's s3-tests record from AWS): each dot-separated label of a name is a
 * DNS label, which begins and ends with a letter or digit.
 */

const RESERVED_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-']
const RESERVED_SUFFIXES = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3']

/** Returns why `name` is not a valid bucket name, or undefined when it is. */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return 'Bucket names must be between 3 and 63 characters long.'
  if (!/^[a-z0-9.-]+$/.test(name))
    return 'Bucket names can consist only of lowercase letters, numbers, dots (.), and hyphens (-).'
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name))
    return 'Bucket names must begin and end with a letter or number.'
  if (name.includes('..')) return 'Bucket names must not contain two adjacent periods.'
  if (name.includes('.-') || name.includes('-.'))
    return 'Bucket names must not contain a hyphen next to a period: each label begins and ends with a letter or number.'
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return 'Bucket names must not be formatted as an IP address.'
  if (RESERVED_PREFIXES.some((p) => name.startsWith(p))) return 'Bucket names must not start with a reserved prefix.'
  if (RESERVED_SUFFIXES.some((s) => name.endsWith(s))) return 'Bucket names must not end with a reserved suffix.'
  return undefined
}
