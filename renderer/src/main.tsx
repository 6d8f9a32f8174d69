// The renderer's entry: install the probe, open the cockpit (its ingest engine in a worker), draw.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { animationFrameScheduler } from './platform/frames.ts';
import { observeLongTasks } from './platform/long-tasks.ts';
import { openCockpit } from './platform/worker-cockpit.ts';
import { createProbe } from './store/probe.ts';
import { App } from './ui/App.tsx';
import { CockpitProvider } from './ui/cockpit-context.tsx';
import './styles.css';

const probe = createProbe();
window.__cordonProbe = probe;
observeLongTasks(probe);

const cockpit = openCockpit(animationFrameScheduler(), probe);
cockpit.start();

const root = document.getElementById('root');
if (root === null) throw new Error('index.html lacks #root.');
createRoot(root).render(
  <StrictMode>
    <CockpitProvider cockpit={cockpit}>
      <App />
    </CockpitProvider>
  </StrictMode>,
);
