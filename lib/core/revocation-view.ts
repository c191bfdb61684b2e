/**
 * The revocation view as the token core sees it. The interfaces and the transport-independent
 * bookkeeping live in lib/stores/revocation-view.ts, so that the views in lib/stores never import the
 * core; they are re-exported here for the core and for existing imports.
 */
export {
  LocalRevocationMemory,
  type LocalRevocationMemoryOptions,
  type RevocationNotice,
  type RevocationView,
} from '../stores/revocation-view';
