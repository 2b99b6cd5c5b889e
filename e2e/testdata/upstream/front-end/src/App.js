import { useEffect, useState } from 'react';

// One card per bird; "Add Bird" fetches another random bird from /api.
function App() {
  const [birds, setBirds] = useState([]);

  const addBird = async () => {
    const res = await fetch('/api');
    const bird = await res.json();
    setBirds((list) => [...list, bird]);
  };

  useEffect(() => {
    addBird();
  }, []);

  return (
    <div>
      <h1>Beautiful Birds</h1>
      <button onClick={addBird}>Add Bird</button>
      <div className="cards">
        {birds.map((b, i) => (
          <div className="card" key={i}>
            <img src={b.image} alt={b.name} />
            <h3>{b.name}</h3>
          </div>
        ))}
      </div>
    </div>
  );
}

export default App;
