import { createRedisClient, waitForReady } from '../../lib/stores/redis-client';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import { testRedisUrl } from '../helpers/redis';

describe('createRedisClient', () => {
  describe('when a command is queued in the same tick as the store defines its scripts', () => {
    it('answers store calls then and later, instead of breaking the client', async () => {
      const client = createRedisClient({ url: testRedisUrl(), redisOptions: { enableAutoPipelining: true } });
      try {
        await waitForReady(client, 5000);
        const published = client.publish('etk-test:order', 'x');
        const store = new RedisTokenStore({ client, keyPrefix: 'etk-test:order:' });
        const query = { jti: 'j', subject: 's', clientId: 'c' };
        const expected = {
          jtiRevoked: false,
          familyRevoked: false,
          subjectCutoffMs: null,
          clientCutoffMs: null,
        };
        await expect(store.checkRevocation(query)).resolves.toEqual(expected);
        await published;
        await new Promise((r) => setTimeout(r, 10));
        void client.publish('etk-test:order', 'y');
        await expect(store.checkRevocation(query)).resolves.toEqual(expected);
      } finally {
        client.disconnect();
      }
    });
  });
});
