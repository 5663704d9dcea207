const s = require('./support');
const axios = require('axios');
const { firstValueFrom } = require('rxjs');
(async () => {
  const { WeComClient, AccessTokenService, WeComTokenModule } = s.lib();
  const w = s.forkWorker('sim-process.js', { env: { BENCH_SIM_OPTIONS: '{}' } });
  const info = await w.ready;
  const { secret, agentId } = info.apps[0];
  const app = await s.bootContext([WeComTokenModule.forRoot({ corpId: info.corpId, secret, baseUrl: info.baseUrl })]);
  const client = app.get(WeComClient);
  const token = await app.get(AccessTokenService).getToken();
  const body = { touser: 'zhangsan', msgtype: 'text', agentid: agentId, text: { content: 'benchmark' } };
  const raw = axios.create({ baseURL: info.baseUrl, timeout: 10000 });
  const P='/cgi-bin/message/send';
  const fns = {
    hand: async () => { const { data } = await raw.post(`${P}?access_token=${token}`, body); if (data.errcode) throw new Error(); },
    handParams: async () => { const { data } = await raw.post(P, body, {params:{access_token: token}}); if (data.errcode) throw new Error(); },
    handArraybuf: async () => { const r = await raw.request({method:'POST', url:P, data: body, params:{access_token: token}, responseType:'arraybuffer', transformResponse:[d=>d]}); const d = JSON.parse(Buffer.from(r.data).toString('utf8')); if (d.errcode) throw new Error(); },
    icptJson: async () => { const r = await client.http.axiosRef.post(P, body); if (r.data.errcode) throw new Error(JSON.stringify(r.data)); },
    icptRx: async () => { const r = await firstValueFrom(client.http.request({method:'POST', url:P, data: body, responseType:'arraybuffer', transformResponse:[d=>d]})); const d = JSON.parse(Buffer.from(r.data).toString('utf8')); if (d.errcode) throw new Error(); },
    cancelTok: async () => { const src = axios.CancelToken.source(); const { data } = await raw.post(`${P}?access_token=${token}`, body, { cancelToken: src.token }); src.cancel(); if (data.errcode) throw new Error(); },
    rxNoIcpt: async () => { const r = await firstValueFrom(new (require('@nestjs/axios').HttpService)(raw).post(`${P}?access_token=${token}`, body)); if (r.data.errcode) throw new Error(); },
    ours: () => client.post(P, body),
  };
  async function drive(n, c, fn){ let k=0; const t0=process.hrtime.bigint(); const cpu0=process.cpuUsage(); await Promise.all(Array.from({length:c}, async()=>{ while(k<n){k++; await fn();} })); const ms=Number(process.hrtime.bigint()-t0)/1e6; const cpu=process.cpuUsage(cpu0); return {rps: Math.round(n/ms*1000), cpu: ((cpu.user+cpu.system)/n)}; }
  for (let r=0;r<2;r++) for (const k of Object.keys(fns)) await drive(3000, 32, fns[k]);
  const acc = {};
  for (let r=0;r<6;r++) for (const k of Object.keys(fns)) { await w.call('resetCounters'); const x = await drive(2000, 32, fns[k]); (acc[k] ??= []).push(x); }
  for (const k of Object.keys(acc)) console.log(k.padEnd(14), 'rps', s.median(acc[k].map(x=>x.rps)), 'cpu µs/req', s.median(acc[k].map(x=>x.cpu)).toFixed(1));
  await app.close(); await w.stop();
})();
