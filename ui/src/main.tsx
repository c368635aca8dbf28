import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { useLive } from './live.js'
import { NetworkPage } from './network.js'
import { TransfersPage } from './transfers.js'
import { ContentPage } from './content.js'
import { call } from './api.js'
import './styles.css'

const PAGES = [
  { id: 'network', title: 'Network' },
  { id: 'transfers', title: 'Transfers' },
  { id: 'content', title: 'Content' },
  { id: 'messages', title: 'Messages' }
] as const
type PageId = typeof PAGES[number]['id']

function currentPage (): PageId {
  const id = location.hash.replace(/^#\/?/, '')
  return (PAGES.find(p => p.id === id)?.id) ?? 'network'
}

/** Messaging lands in its own issue: this page is where its topics and messages will be */
function MessagesPage () {
  return (
    <section aria-labelledby="messages-h">
      <h2 id="messages-h">Messages</h2>
      <p>Messaging is not in this build yet. When it lands, this page lists the topics this node follows and their messages, live like the other pages.</p>
    </section>
  )
}

function App () {
  const live = useLive()
  const [page, setPage] = useState<PageId>(currentPage())
  useEffect(() => {
    const onHash = (): void => { setPage(currentPage()) }
    window.addEventListener('hashchange', onHash)
    return () => { window.removeEventListener('hashchange', onHash) }
  }, [])
  useEffect(() => { document.title = `Kizuna · ${PAGES.find(p => p.id === page)!.title}` }, [page])
  if (live.connection === 'logged-out') {
    return (
      <main id="main">
        <h1>Kizuna</h1>
        <p role="alert" data-testid="logged-out">Not logged in. Run <code>kizuna ui</code> (or <code>kizuna ui --open</code>) on this machine for a login link.</p>
      </main>
    )
  }
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header>
        <h1>Kizuna <span class="node" title={live.status?.peerId}>{live.status != null ? `node …${live.status.peerId.slice(-6)}` : ''}</span></h1>
        <nav aria-label="Pages">
          <ul>
            {PAGES.map(p => (
              <li key={p.id}><a href={`#/${p.id}`} aria-current={p.id === page ? 'page' : undefined}>{p.title}</a></li>
            ))}
          </ul>
        </nav>
        <p class={`conn ${live.connection}`} role="status" data-testid="connection">{live.connection === 'live' ? '● live' : live.connection === 'connecting' ? 'connecting…' : 'reconnecting…'}</p>
        <button type="button" class="logout" onClick={() => { void call('POST', '/ui/logout', {}).then(() => { location.reload() }) }}>Log out</button>
      </header>
      <main id="main" tabIndex={-1}>
        {page === 'network' && <NetworkPage live={live} />}
        {page === 'transfers' && <TransfersPage live={live} />}
        {page === 'content' && <ContentPage live={live} />}
        {page === 'messages' && <MessagesPage />}
      </main>
    </>
  )
}

const root = document.getElementById('app')!
// the static "loading" text goes; Preact then owns the element
root.textContent = ''
render(<App />, root)
