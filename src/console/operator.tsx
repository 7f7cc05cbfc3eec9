/** @jsxImportSource hono/jsx */
/**
 * The operator pages: namespaces, users (a new user's secret is shown once) and their policies
 * (built-in or a JSON document), namespace and master key rotation, and cluster health (stores
 * up/down, capacity, heal backlog, durability counters, the same data as /_coffer/health and
 * /_coffer/metrics, plus charts of the last hour of S3 requests from the in-memory ring). For the
 * root user only, like the admin API (src/admin/routes.ts): anyone else gets 403 before anything
 * is read.
 */
import type { Context, Hono } from 'hono'
import { BUILTIN_POLICY_NAMES } from '../policy/index.ts'
import {
  createNamespace,
  createUser,
  deleteNamespace,
  deleteUser,
  deleteUserPolicy,
  getUserPolicy,
  type Health,
  health,
  isServiceError,
  listNamespaces,
  listUsers,
  type NamespaceInfo,
  rotateMasterKey,
  rotateNamespaceKey,
  type Service,
  setUserPolicy,
  type UserInfo,
  type UserPolicies,
} from '../service/index.ts'
import type { RequestMetrics } from '../util/request-metrics.ts'
import { RequestCharts } from './charts.tsx'
import { BASE, formatBytes, Notices, Page, PostForm, type Viewer } from './layout.tsx'
import type { ConsoleEnv } from './types.ts'

type C = Context<ConsoleEnv>

interface Notice {
  error?: { code: string; message: string }
  created?: { accessKeyId: string; secretAccessKey: string; name: string; namespace: string }
  done?: string
}

function HealthSection(props: { h: Health }) {
  const { h } = props
  return (
    <section aria-labelledby="health-title">
      <h2 id="health-title">Cluster health</h2>
      <p>
        Status: <strong class={`status-${h.status}`}>{h.status}</strong> · erasure coding {h.ec} · heal backlog{' '}
        <strong id="heal-backlog">{h.healBacklog}</strong>
      </p>
      {h.problems.length ? (
        <ul class="problems">
          {h.problems.map((p) => (
            <li>{p}</li>
          ))}
        </ul>
      ) : null}
      <table>
        <thead>
          <tr>
            <th scope="col">Drive / node</th>
            <th scope="col">State</th>
            <th scope="col">Free</th>
            <th scope="col">Total</th>
          </tr>
        </thead>
        <tbody>
          {h.stores.map((s) => (
            <tr>
              <td>{s.id}</td>
              <td class={s.up ? 'up' : 'down'}>{s.up ? (s.full ? 'up, full' : 'up') : 'down'}</td>
              <td>{s.free === undefined ? '—' : formatBytes(s.free)}</td>
              <td>{s.total === undefined ? '—' : formatBytes(s.total)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <dl class="state">
        {Object.entries(h.stats).map(([k, v]) => (
          <>
            <dt>{k.replace(/[A-Z]/g, (ch) => ` ${ch.toLowerCase()}`)}</dt>
            <dd>{v}</dd>
          </>
        ))}
      </dl>
      <p class="hint">
        Counters since this gateway started; <code>/_coffer/metrics</code> is the Prometheus source for history.
      </p>
    </section>
  )
}

function MasterKeySection(props: { csrf: string }) {
  return (
    <section aria-labelledby="master-title">
      <h2 id="master-title">Master key</h2>
      <p>
        Rotating the master key re-wraps every namespace key, SSE-KMS key and sealed user secret and rewrites the key
        file, as <code>coffer admin keys rotate --master</code> does; no object data is re-encrypted.
      </p>
      <PostForm
        action={`${BASE}/admin/keys/master/rotate`}
        csrf={props.csrf}
        confirm="Rotate the master key? The key file is replaced; keep a backup of the new one."
        class="inline"
      >
        <button type="submit" class="danger">
          Rotate master key
        </button>
      </PostForm>
    </section>
  )
}

function OperatorPage(props: {
  viewer: Viewer
  namespaces: NamespaceInfo[]
  users: UserInfo[]
  h: Health
  metrics?: RequestMetrics
  notice: Notice
}) {
  const v = props.viewer
  const { created } = props.notice
  return (
    <Page title="Operator" viewer={v}>
      <Notices notice={props.notice} />
      {created ? (
        <div class="card secret" role="status">
          <p>
            User <strong>{created.name}</strong> created in <strong>{created.namespace}</strong>. The secret is shown
            this once: copy it now.
          </p>
          <label for="new-access-key">Access key</label>
          <input id="new-access-key" readonly value={created.accessKeyId} />
          <label for="new-secret">Secret key</label>
          <input id="new-secret" readonly value={created.secretAccessKey} />
          <button type="button" data-copy="new-secret">
            Copy secret
          </button>
        </div>
      ) : null}
      <HealthSection h={props.h} />
      {props.metrics ? (
        <RequestCharts series={props.metrics.series(Date.now())} bucketMs={props.metrics.options.bucketMs} />
      ) : null}
      <section aria-labelledby="ns-title">
        <h2 id="ns-title">Namespaces</h2>
        <PostForm action={`${BASE}/admin/namespaces`} csrf={v.csrf} class="card row">
          <label for="ns-name">New namespace</label>
          <input id="ns-name" name="name" required pattern="[a-z0-9][a-z0-9\-]*" maxLength={63} />
          <label>
            <input type="checkbox" name="encryption" value="on" checked /> encrypted at rest (fixed at creation)
          </label>
          <button type="submit">Create namespace</button>
        </PostForm>
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Encryption</th>
              <th scope="col">Key version</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {props.namespaces.map((n) => (
              <tr>
                <td>{n.name}</td>
                <td>{n.encryption ? 'on' : 'off'}</td>
                <td>{n.keyVersion}</td>
                <td class="actions">
                  {n.encryption ? (
                    <PostForm
                      action={`${BASE}/admin/namespaces/${encodeURIComponent(n.name)}/rotate`}
                      csrf={v.csrf}
                      confirm={`Rotate the key of namespace ${n.name}? Every object key is re-wrapped.`}
                      class="inline"
                    >
                      <button type="submit">Rotate key</button>
                    </PostForm>
                  ) : null}
                  <PostForm
                    action={`${BASE}/admin/namespaces/${encodeURIComponent(n.name)}/delete`}
                    csrf={v.csrf}
                    confirm={`Delete namespace ${n.name}? It must hold no buckets.`}
                    class="inline"
                  >
                    <button type="submit" class="danger">
                      Delete
                    </button>
                  </PostForm>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section aria-labelledby="users-title">
        <h2 id="users-title">Users</h2>
        <PostForm action={`${BASE}/admin/users`} csrf={v.csrf} class="card row">
          <label for="user-name">New user</label>
          <input id="user-name" name="name" required />
          <label for="user-ns">in namespace</label>
          <select id="user-ns" name="namespace">
            {props.namespaces.map((n) => (
              <option value={n.name}>{n.name}</option>
            ))}
          </select>
          <label for="user-policy">policy</label>
          <select id="user-policy" name="policy">
            {BUILTIN_POLICY_NAMES.map((p) => (
              <option value={p}>{p}</option>
            ))}
            <option value="">none (attach one later)</option>
          </select>
          <button type="submit">Create user</button>
        </PostForm>
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Namespace</th>
              <th scope="col">Access key</th>
              <th scope="col">Policy</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {props.users.map((u) => (
              <tr>
                <td>{u.name}</td>
                <td>{u.namespace}</td>
                <td>
                  <code>{u.accessKeyId}</code>
                </td>
                <td>{u.isRoot ? 'root' : (u.builtinPolicy ?? (u.hasPolicy ? 'custom' : 'none'))}</td>
                <td class="actions">
                  {u.isRoot ? null : (
                    <a class="button" href={`${BASE}/admin/users/${encodeURIComponent(u.accessKeyId)}`}>
                      Policy
                    </a>
                  )}{' '}
                  {u.isRoot ? null : (
                    <PostForm
                      action={`${BASE}/admin/users/${encodeURIComponent(u.accessKeyId)}/delete`}
                      csrf={v.csrf}
                      confirm={`Delete user ${u.name} (${u.accessKeyId})?`}
                      class="inline"
                    >
                      <button type="submit" class="danger">
                        Delete
                      </button>
                    </PostForm>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <MasterKeySection csrf={v.csrf} />
    </Page>
  )
}

/** One user's policies: the built-in one attached and/or a JSON document of its own. */
function UserPolicyPage(props: {
  viewer: Viewer
  user: UserInfo
  policies: UserPolicies
  notice: Notice
  /** What the form sends back after a refusal, so the operator's text is not lost. */
  draft?: { builtin: string; document: string }
}) {
  const { user, policies, viewer: v } = props
  const builtin = props.draft?.builtin ?? policies.builtinPolicy ?? ''
  const document = props.draft?.document ?? (policies.policy === null ? '' : JSON.stringify(policies.policy, null, 2))
  const action = `${BASE}/admin/users/${encodeURIComponent(user.accessKeyId)}/policy`
  return (
    <Page title={`Policy of ${user.name}`} viewer={v}>
      <p class="crumbs">
        <a href={`${BASE}/admin`}>Operator</a> / users / {user.name}
      </p>
      <Notices notice={props.notice} />
      <dl class="state">
        <dt>Namespace</dt>
        <dd>{user.namespace}</dd>
        <dt>Access key</dt>
        <dd>
          <code>{user.accessKeyId}</code>
        </dd>
        <dt>Principal</dt>
        <dd>
          <code>{user.arn}</code>
        </dd>
        <dt>Built-in policy</dt>
        <dd id="current-builtin">{policies.builtinPolicy ?? 'none'}</dd>
        <dt>Own policy document</dt>
        <dd id="current-document">{policies.policy === null ? 'none' : 'set'}</dd>
      </dl>
      <PostForm action={action} csrf={v.csrf} class="card narrow wide">
        <label for="policy-builtin">Built-in policy</label>
        <select id="policy-builtin" name="builtin">
          <option value="" selected={builtin === ''}>
            none
          </option>
          {BUILTIN_POLICY_NAMES.map((p) => (
            <option value={p} selected={builtin === p}>
              {p}
            </option>
          ))}
        </select>
        <label for="policy-document">Own policy document (IAM JSON; empty for none)</label>
        <textarea id="policy-document" name="document" rows={14} spellcheck={false}>
          {document}
        </textarea>
        <p class="hint">
          Both apply: a request is allowed when either allows it and neither denies it. Saved as one change; a malformed
          document is refused and nothing changes.
        </p>
        <button type="submit">Save policies</button>
      </PostForm>
      <PostForm
        action={`${action}/delete`}
        csrf={v.csrf}
        confirm={`Remove every policy of ${user.name}? The user keeps its keys but may do nothing.`}
        class="inline"
      >
        <button type="submit" class="danger">
          Remove all policies
        </button>
      </PostForm>
    </Page>
  )
}

const formText = async (c: C, name: string): Promise<string> => {
  const v = (await c.req.parseBody({ all: true }))[name]
  return typeof v === 'string' ? v : ''
}

export function registerOperatorPages(app: Hono<ConsoleEnv>, svc: Service, metrics?: RequestMetrics): void {
  app.use('/admin/*', async (c, next) => {
    if (!c.get('viewer').isRoot)
      return c.json({ error: 'AccessDenied', message: 'The operator pages are for the root user only.' }, 403)
    await next()
  })
  app.use('/admin', async (c, next) => {
    if (!c.get('viewer').isRoot)
      return c.json({ error: 'AccessDenied', message: 'The operator pages are for the root user only.' }, 403)
    await next()
  })

  const render = async (c: C, notice: Notice = {}, status = 200) => {
    const [namespaces, users, h] = await Promise.all([listNamespaces(svc), listUsers(svc), health(svc)])
    return c.html(
      <OperatorPage
        viewer={c.get('viewer')}
        namespaces={namespaces}
        users={users}
        h={h}
        metrics={metrics}
        notice={notice}
      />,
      status as 200,
    )
  }
  /** Runs an operator action; a service refusal is shown on the page as a sentence with its code. */
  const act = async (c: C, run: () => Promise<Notice>) => {
    try {
      return await render(c, await run())
    } catch (e) {
      if (!isServiceError(e)) throw e
      return render(c, { error: { code: e.code, message: e.message } }, e.code === 'AccessDenied' ? 403 : 400)
    }
  }

  app.get('/admin', (c) => render(c))
  app.post('/admin/namespaces', (c) =>
    act(c, async () => {
      const name = await formText(c, 'name')
      const encrypted = (await formText(c, 'encryption')) === 'on'
      await createNamespace(svc, name, encrypted)
      return { done: `Namespace ${name} created (encryption ${encrypted ? 'on' : 'off'}).` }
    }),
  )
  app.post('/admin/namespaces/:name/delete', (c) =>
    act(c, async () => {
      await deleteNamespace(svc, c.req.param('name'), false)
      return { done: `Namespace ${c.req.param('name')} deleted.` }
    }),
  )
  app.post('/admin/namespaces/:name/rotate', (c) =>
    act(c, async () => {
      await rotateNamespaceKey(svc, c.req.param('name'))
      return { done: `The key of namespace ${c.req.param('name')} was rotated.` }
    }),
  )
  app.post('/admin/users', (c) =>
    act(c, async () => {
      const name = await formText(c, 'name')
      const namespace = await formText(c, 'namespace')
      const policy = await formText(c, 'policy')
      const user = await createUser(svc, name, namespace)
      if (policy !== '') await setUserPolicy(svc, user.accessKeyId, { builtin: policy })
      return {
        created: { accessKeyId: user.accessKeyId, secretAccessKey: user.secretAccessKey, name, namespace },
      }
    }),
  )
  app.post('/admin/users/:accessKeyId/delete', (c) =>
    act(c, async () => {
      await deleteUser(svc, c.req.param('accessKeyId'))
      return { done: `User ${c.req.param('accessKeyId')} deleted.` }
    }),
  )
  app.post('/admin/keys/master/rotate', (c) =>
    act(c, async () => {
      // The call the admin API's POST /keys/rotate {master: true} and `coffer admin keys rotate --master` make.
      const { namespaces } = await rotateMasterKey(svc)
      return { done: `The master key was rotated: ${namespaces} namespace keys re-wrapped, the key file replaced.` }
    }),
  )

  // ── one user's policies ──
  const userOf = async (accessKeyId: string) => (await listUsers(svc)).find((u) => u.accessKeyId === accessKeyId)
  const renderUser = async (c: C, notice: Notice = {}, status = 200, draft?: { builtin: string; document: string }) => {
    const accessKeyId = c.req.param('accessKeyId') ?? ''
    const user = await userOf(accessKeyId)
    if (!user || user.isRoot)
      return c.json({ error: 'NoSuchEntity', message: `No user with the access key ${accessKeyId}.` }, 404)
    const policies = await getUserPolicy(svc, accessKeyId)
    return c.html(
      <UserPolicyPage viewer={c.get('viewer')} user={user} policies={policies} notice={notice} draft={draft} />,
      status as 200,
    )
  }
  app.get('/admin/users/:accessKeyId', (c) => renderUser(c))
  app.post('/admin/users/:accessKeyId/policy', async (c) => {
    const accessKeyId = c.req.param('accessKeyId')
    const builtin = await formText(c, 'builtin')
    const document = (await formText(c, 'document')).trim()
    try {
      if (builtin === '' && document === '') await deleteUserPolicy(svc, accessKeyId)
      else await setUserPolicy(svc, accessKeyId, { builtin: builtin || null, document: document || null })
    } catch (e) {
      if (!isServiceError(e)) throw e
      return renderUser(c, { error: { code: e.code, message: e.message } }, 400, { builtin, document })
    }
    return renderUser(c, { done: 'The policies were saved; they apply at once on this gateway.' })
  })
  app.post('/admin/users/:accessKeyId/policy/delete', async (c) => {
    try {
      await deleteUserPolicy(svc, c.req.param('accessKeyId'))
    } catch (e) {
      if (!isServiceError(e)) throw e
      return renderUser(c, { error: { code: e.code, message: e.message } }, 400)
    }
    return renderUser(c, { done: 'Every policy was removed: the user may do nothing until one is attached.' })
  })
}
