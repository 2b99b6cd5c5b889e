import './style.css'

const flock = document.querySelector('#flock')
const add = document.querySelector('#add')

// addBird fetches one random bird from the back-end and adds its card.
async function addBird() {
  add.disabled = true
  try {
    const res = await fetch('/api')
    if (!res.ok) throw new Error(`back-end answered ${res.status}`)
    const bird = await res.json()
    flock.append(card(bird))
  } catch (err) {
    const p = document.createElement('p')
    p.className = 'error'
    p.textContent = `Could not load a bird: ${err.message}`
    flock.append(p)
  } finally {
    add.disabled = false
  }
}

function card(bird) {
  const figure = document.createElement('figure')
  figure.className = 'card'
  const img = document.createElement('img')
  img.src = bird.image
  img.alt = bird.name
  img.loading = 'lazy'
  const caption = document.createElement('figcaption')
  caption.textContent = bird.name
  figure.title = bird.description || ''
  figure.append(img, caption)
  return figure
}

add.addEventListener('click', addBird)
for (let i = 0; i < 3; i++) addBird()
