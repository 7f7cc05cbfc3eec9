/**
 * Keeps the docs from going missing: every docs/*.md file and § section cited by code, tests, benchmarks and
 * READMEs exists, links and backticked repo paths in the docs resolve, and docs/README.md lists every doc.
 */
import { describe, expect, it } from 'vitest'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, posix, relative, resolve, sep } from 'node:path'

const ROOT = resolve(import.meta.dirname, '../..')
/** What may cite the docs. The old out-of-repo design file must not be cited anywhere in them. */
const SCANNED = ['README.md', 'docs', 'src', 'test', 'bench', 'wasm', 'bin']
const TEXT_FILE = /\.(ts|mts|mjs|js|md|wat)$/
/** This file's fixtures cite missing docs on purpose. */
const SELF = 'test/arch/docs.test.ts'
const INDEX = 'docs/README.md'

/** Repo-relative path → text. */
type Files = Map<string, string>

/** A cited section: `n` is the `## n.` heading; `item` the numbered step `item.` (or `### n.item`) under it. */
interface Section {
  n: string
  item?: string
}

/** Where a citation points, and who cites it (for the message). */
interface Citation {
  from: string
  line: number
  target: string
  section?: Section
}

// `docs/x.md`, optionally followed by `§N` or `§N.M`; not when part of a longer path (`a/docs/x.md`).
const CODE_CITATION = /(?<![\w./-])docs\/([\w./-]+?\.md)(?:`?\)?\s*§(\d+)(?:\.(\d+))?)?/g
const OLD_DESIGN = /\bDESIGN(?:\.md)?\s*§|shared\/DESIGN\.md/
const MD_LINK = /\]\(([^)\s]+)\)/g
const SECTION_MARK = /§(\d+)(?:\.(\d+))?/g
/** A file named right before a § mark: `[text](file.md) §2`, `file.md §2`, `` `docs/file.md` §2 ``. */
const FILE_BEFORE = /(?:\]\(([^)\s]+?\.md)\)|([\w./-]+?\.md)`?)\s*$/
const REPO_PATH = /`((?:src|test|bench|wasm|bin|docs)\/[^`\s*…{}<>]+)`/g

const lineOf = (text: string, index: number): number => text.slice(0, index).split('\n').length

/** The text of section `## n.` (up to the next `## ` heading), or undefined. */
function sectionText(md: string, n: string): string | undefined {
  const start = md.search(new RegExp(`^## ${n}\\. `, 'm'))
  if (start < 0) return undefined
  const rest = md.slice(start + 1)
  const end = rest.search(/^## /m)
  return end < 0 ? rest : rest.slice(0, end)
}

function hasSection(md: string, s: Section): boolean {
  const text = sectionText(md, s.n)
  if (text === undefined) return false
  return s.item === undefined || new RegExp(`^(?:${s.item}\\. |### ${s.n}\\.${s.item}\\b)`, 'm').test(text)
}

/** Citations of docs from a code file or a top-level README: only the `docs/…` form counts. */
function codeCitations(from: string, text: string): Citation[] {
  return [...text.matchAll(CODE_CITATION)].map((m) => ({
    from,
    line: lineOf(text, m.index),
    target: `docs/${m[1]}`,
    section: m[2] ? { n: m[2], item: m[3] } : undefined,
  }))
}

/** Links, § marks (a bare one cites its own file) and backticked repo paths inside docs/*.md. */
function docCitations(from: string, text: string): { cites: Citation[]; paths: Citation[] } {
  const dir = posix.dirname(from)
  const resolveRef = (ref: string) => (ref.startsWith('docs/') ? ref : posix.normalize(posix.join(dir, ref)))
  const cites: Citation[] = []
  for (const m of text.matchAll(MD_LINK)) {
    const ref = (m[1] ?? '').split('#')[0] ?? ''
    if (ref === '' || /^[a-z]+:/i.test(ref)) continue
    cites.push({ from, line: lineOf(text, m.index), target: resolveRef(ref) })
  }
  for (const m of text.matchAll(SECTION_MARK)) {
    const before = FILE_BEFORE.exec(text.slice(Math.max(0, m.index - 200), m.index))
    const ref = before?.[1] ?? before?.[2]
    cites.push({
      from,
      line: lineOf(text, m.index),
      target: ref ? resolveRef(ref) : from,
      section: { n: m[1] ?? '', item: m[2] },
    })
  }
  const paths = [...text.matchAll(REPO_PATH)].map((m) => ({ from, line: lineOf(text, m.index), target: m[1] ?? '' }))
  return { cites, paths }
}

/**
 * Every problem with the citations in `files`. `exists` answers for repo paths that are not in
 * `files` (source files, directories). Top-level READMEs are checked like docs for repo paths.
 */
function docProblems(files: Files, exists: (path: string) => boolean): string[] {
  const out: string[] = []
  const isDoc = (p: string) => p.startsWith('docs/') && p.endsWith('.md')
  const where = (c: Citation) => `${c.from}:${c.line}`
  const check = (c: Citation) => {
    const text = files.get(c.target)
    const s = c.section && (c.section.item ? ` §${c.section.n}.${c.section.item}` : ` §${c.section.n}`)
    if (text === undefined) {
      if (!c.section && exists(c.target)) return
      out.push(`${where(c)}: cites ${c.target}${s ?? ''}, but there is no ${c.target}`)
    } else if (c.section && !hasSection(text, c.section)) {
      out.push(`${where(c)}: cites ${c.target}${s}, but it has no such section (## ${c.section.n}.)`)
    }
  }
  for (const [path, text] of files) {
    const old = OLD_DESIGN.exec(text)
    if (old)
      out.push(`${path}:${lineOf(text, old.index)}: cites the old DESIGN file; cite docs/architecture.md instead`)
    if (isDoc(path)) {
      const { cites, paths } = docCitations(path, text)
      cites.forEach(check)
      for (const p of paths)
        if (!files.has(p.target) && !exists(p.target)) out.push(`${where(p)}: names ${p.target}, which does not exist`)
    } else {
      codeCitations(path, text).forEach(check)
      if (path.endsWith('README.md')) {
        for (const p of docCitations(path, text).paths)
          if (!files.has(p.target) && !exists(p.target))
            out.push(`${where(p)}: names ${p.target}, which does not exist`)
      }
    }
  }
  const index = files.get(INDEX)
  for (const path of files.keys()) {
    if (!isDoc(path) || path === INDEX) continue
    if (index === undefined || !index.includes(`](${posix.relative('docs', path)})`))
      out.push(`${INDEX}: does not list ${path}`)
  }
  return out
}

function walk(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out.push(...walk(p))
    else if (TEXT_FILE.test(name)) out.push(p)
  }
  return out
}

function repoFiles(): Files {
  const files: Files = new Map()
  for (const entry of SCANNED) {
    const abs = join(ROOT, entry)
    for (const file of statSync(abs).isDirectory() ? walk(abs) : [abs]) {
      const rel = relative(ROOT, file).split(sep).join('/')
      if (rel !== SELF) files.set(rel, readFileSync(file, 'utf8'))
    }
  }
  return files
}

describe('the docs checker itself', () => {
  const arch = '# A\n\n## 1. Parts\ntext\n\n## 2. Write path\n1. first\n2. second\n\n## 8. Facts\n'
  const d = 'docs/'
  const base = (): Files =>
    new Map([
      [`${d}architecture.md`, arch],
      [`${d}README.md`, '[a](architecture.md)'],
    ])
  const run = (extra: [string, string][]) => docProblems(new Map([...base(), ...extra]), (p) => p === 'src/a.ts')

  it('accepts citations that resolve', () => {
    expect(
      run([
        ['src/a.ts', `// see ${d}architecture.md §8 and (${d}architecture.md §2.2)`],
        ['README.md', `[arch](${d}architecture.md), \`${d}architecture.md §1\`, \`src/a.ts\``],
      ]),
    ).toEqual([])
    expect(hasSection(arch, { n: '2', item: '2' })).toBe(true)
  })

  it('flags a missing file, section or step, and the old design file', () => {
    expect(run([['src/a.ts', `// ${d}nope.md`]])).toHaveLength(1)
    expect(run([['src/a.ts', `// ${d}architecture.md §9`]])).toHaveLength(1)
    expect(run([['src/a.ts', `// ${d}architecture.md §2.3`]])).toHaveLength(1)
    expect(run([['bench/x.ts', `// ${'DESI'}GN §8`]])).toHaveLength(1)
    expect(run([['README.md', `See \`../shared/${'DESI'}GN.md\``]])).toHaveLength(1)
    expect(run([['README.md', '`src/gone.ts`']])).toHaveLength(1)
  })

  it('checks links, § marks and repo paths inside the docs, and the index', () => {
    expect(run([[`${d}f.md`, '## 1. F\n[a](architecture.md) §2, §1, `src/a.ts`']])).toEqual([
      `${d}README.md: does not list ${d}f.md`,
    ])
    expect(run([[`${d}architecture.md`, `${arch}[x](missing.md)`]])).toHaveLength(1)
    // A § right after a link cites the linked file (missing here: the link and the § are both reported).
    expect(run([[`${d}architecture.md`, `${arch}see [f](formats.md) §3`]])).toEqual([
      `${d}architecture.md:11: cites ${d}formats.md, but there is no ${d}formats.md`,
      `${d}architecture.md:11: cites ${d}formats.md §3, but there is no ${d}formats.md`,
    ])
    expect(run([[`${d}architecture.md`, `${arch}see §5`]])).toHaveLength(1)
    expect(run([[`${d}architecture.md`, `${arch}\`src/gone.ts\``]])).toHaveLength(1)
  })
})

describe('docs cited from the repository (docs/architecture.md)', () => {
  it('every cited doc, section and path exists, and docs/README.md lists every doc', () => {
    const files = repoFiles()
    expect(files.has('docs/architecture.md')).toBe(true)
    const cited = [...files].filter(([p, t]) => !p.startsWith('docs/') && codeCitations(p, t).length > 0)
    expect(cited.length).toBeGreaterThan(10)
    const problems = docProblems(files, (p) => existsSync(join(ROOT, p)))
    expect(problems, problems.join('\n')).toEqual([])
  })
})
