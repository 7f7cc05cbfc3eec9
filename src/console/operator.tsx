/** @jsxImportSource hono/jsx */
/**
 * The operator pages: namespaces, users (a new user's secret is shown once), key rotation and
 * cluster health (stores up/down, capacity, heal backlog, durability counters, the same data as
 * /_coffer/health and /_coffer/metrics). For the root user only, like the admin API
 * (src/admin/routes.ts): anyone else gets 403 before anything is read.
 */
import type { Context, Hono } from 'hono'
import { BUILTIN_POLICY_NAMES } from '../policy/index.ts'
import {
  createNamespace,
  createUser,
  deleteNamespace,
  deleteUser,
  type Health,
  health,
  isServiceError,
  listNamespaces,
  listUsers,
  type NamespaceInfo,
  rotateNamespaceKey,
  type Service,
  setUserPolicy,
  type UserInfo,
} from '../service/index.ts'
import { BASE, ErrorNote, formatBytes, Page, PostForm, type Viewer } from './layout.tsx'
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

function OperatorPage(props: {
  viewer: Viewer
  namespaces: NamespaceInfo[]
  users: UserInfo[]
  h: Health
  notice: Notice
}) {
  const v = props.viewer
  const { created } = props.notice
  return (
    <Page title="Operator" viewer={v}>
      <ErrorNote error={props.notice.error} />
      {props.notice.done ? (
        <p class="ok" role="status">
          {props.notice.done}
        </p>
      ) : null}
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
                <td>
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
    </Page>
  )
}

const formText = async (c: C, name: string): Promise<string> => {
  const v = (await c.req.parseBody({ all: true }))[name]
  return typeof v === 'string' ? v : ''
}

export function registerOperatorPages(app: Hono<ConsoleEnv>, svc: Service): void {
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
      <OperatorPage viewer={c.get('viewer')} namespaces={namespaces} users={users} h={h} notice={notice} />,
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
}
