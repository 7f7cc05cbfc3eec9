/**
 * The policy language's public face: parse and validate IAM policy documents, evaluate a request
 * against them as AWS does, the S3 operation → action table, Block Public Access's "is it public".
 * Pure: no I/O, no clock (the caller puts aws:CurrentTime in the context).
 */
export {
  type Condition,
  MAX_POLICY_BYTES,
  mentionsConditionKey,
  type Policy,
  PolicyError,
  type PolicyKind,
  parsePolicy,
  parsePolicyValue,
  type PrincipalSet,
  type Statement,
} from './document.ts'
export { type ContextValues, isKnownConditionKey, normalizeKey } from './conditions.ts'
export { type AccessRequest, type ApplicablePolicies, type Decision, evaluate } from './evaluate.ts'
export { isPublicPolicy } from './public.ts'
export { accountArn, type Caller, callerArn, principalType, userArn } from './principals.ts'
export {
  type ActionCheck,
  bucketArn,
  checksFor,
  KNOWN_S3_ACTIONS,
  objectArn,
  type OperationTarget,
  S3_OPERATIONS,
  type S3Operation,
} from './s3-actions.ts'
export {
  BUILTIN_POLICY_DOCUMENTS,
  BUILTIN_POLICY_NAMES,
  type BuiltinPolicyName,
  builtinPolicy,
  isBuiltinPolicyName,
} from './builtin.ts'
export { cidrContains, parseCidr } from './ip.ts'
export { wildcardMatch } from './wildcard.ts'
export {
  type Acl,
  AclError,
  aclGrants,
  type AclPermission,
  ACL_PERMISSIONS,
  aclText,
  ALL_USERS,
  ANONYMOUS_CANONICAL_ID,
  AUTHENTICATED_USERS,
  bucketPermissionFor,
  cannedAcl,
  type Grant,
  type Grantee,
  granteeFromXml,
  grantsFromHeaders,
  isAclPermission,
  isOwnerOnly,
  isPublicAcl,
  LOG_DELIVERY,
  objectPermissionFor,
  parseAclText,
} from './acl.ts'
