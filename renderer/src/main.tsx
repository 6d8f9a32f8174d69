// The renderer's entry: open the link to the cockpit core, start the store, install the probe, draw.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { animationFrameScheduler } from './platform/frames.ts';
import { openCockpitLink } from './platform/index.ts';
import { observeLongTasks } from './platform/long-tasks.ts';
import { createCockpit } from './store/cockpit.ts';
import { createProbe } from './store/probe.ts';
import { App } from './ui/App.tsx';
import { CockpitProvider } from './ui/cockpit-context.tsx';
import './styles.css';

const probe = createProbe();
window.__cordonProbe = probe;
observeLongTasks(probe);

const cockpit = createCockpit({ link: openCockpitLink(), scheduler: animationFrameScheduler(), probe });
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
