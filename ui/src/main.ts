import { mount } from 'svelte';
import App from './App.svelte';
import './styles/tokens.css';
import { applyTheme, followSystemTheme } from './lib/theme';

// Before the first paint, so a dark desktop never flashes light.
applyTheme();
followSystemTheme();

const target = document.getElementById('app');
if (!target) throw new Error('missing #app');
export default mount(App, { target });
