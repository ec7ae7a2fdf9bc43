// Which view the window shows; error notices move it (to Settings, for one).
export type ViewId = 'platform' | 'services' | 'helpers' | 'logs' | 'settings';

export const nav = $state<{ view: ViewId }>({ view: 'platform' });
